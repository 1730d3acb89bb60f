import { pathMatcher, RouteMethods } from './method-not-allowed';

describe('RouteMethods (405 with Allow)', () => {
  const routes = new RouteMethods();
  for (const [path, method] of [
    ['/health', 'GET'],
    ['/health', 'HEAD'],
    ['/health/:domain/cache', 'GET'],
    ['/catalog/products/:id', 'GET'],
    ['/catalog/products/:id', 'put'],
    ['/catalog/products', 'POST'],
    ['/docs/*', 'GET'],
  ])
    routes.add(path, method);

  it('lists the methods of the routes whose path matches, sorted and upper case', () => {
    expect(routes.allowed('/health')).toEqual(['GET', 'HEAD']);
    expect(routes.allowed('/catalog/products/abc?x=1')).toEqual(['GET', 'PUT']);
    expect(routes.allowed('/catalog/products')).toEqual(['POST']);
    expect(routes.allowed('/health/catalog/cache')).toEqual(['GET']);
    expect(routes.allowed('/docs/swagger-ui.css')).toEqual(['GET']);
  });

  it('answers undefined for a path no route has: a parameter is exactly one segment', () => {
    expect(routes.allowed('/nope')).toBeUndefined();
    expect(routes.allowed('/catalog/products/a/b')).toBeUndefined();
    expect(routes.allowed('/health/')).toBeUndefined();
  });

  it('treats the characters of a path literally', () => {
    expect(pathMatcher('/a.b/:id').test('/a.b/1')).toBe(true);
    expect(pathMatcher('/a.b/:id').test('/aXb/1')).toBe(false);
  });
});
