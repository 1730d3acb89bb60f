import type { NestFastifyApplication } from '@nestjs/platform-fastify';

interface RoutePath {
  /** Fastify's path as registered, e.g. `/catalog/products/:id`. */
  path: string;
  matcher: RegExp;
  methods: Set<string>;
}

/** `/a/:id/*` → `^/a/[^/]+/.*$`: a parameter is one path segment, a wildcard the rest. */
export function pathMatcher(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) =>
      segment.startsWith(':')
        ? '[^/]+'
        : segment === '*'
          ? '.*'
          : segment.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * The methods of every registered path, collected from Fastify's `onRoute` hook,
 * so that a request Fastify cannot route can be told apart: a path that exists
 * with other methods is a 405 with `Allow` (RFC 9110 §15.5.6), anything else a
 * 404. Consulted only for requests that matched no route.
 */
export class RouteMethods {
  private readonly paths = new Map<string, RoutePath>();

  /** Starts collecting; call it before the routes are registered (before `app.init()`). */
  static track(app: NestFastifyApplication): RouteMethods {
    const routes = new RouteMethods();
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (route) => {
        for (const method of Array.isArray(route.method) ? route.method : [route.method]) routes.add(route.url, method);
      });
    return routes;
  }

  add(path: string, method: string): void {
    let entry = this.paths.get(path);
    if (!entry) this.paths.set(path, (entry = { path, matcher: pathMatcher(path), methods: new Set() }));
    entry.methods.add(method.toUpperCase());
  }

  /** The methods `url` (query string ignored) answers, sorted; undefined when no route has its path. */
  allowed(url: string): string[] | undefined {
    const path = url.split('?')[0];
    const methods = new Set<string>();
    for (const entry of this.paths.values()) {
      if (entry.matcher.test(path)) for (const m of entry.methods) methods.add(m);
    }
    return methods.size > 0 ? [...methods].sort() : undefined;
  }
}
