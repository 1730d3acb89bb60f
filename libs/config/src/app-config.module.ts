import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { validateEnvironment } from './validate-environment';

export interface AppConfigOptions {
  /** Values that win over process.env and .env (tests start several differently configured apps in one process). */
  overrides?: Record<string, string>;
}

/** Global, validated configuration; inject `ConfigService<EnvironmentVariables, true>`. */
@Module({})
export class AppConfigModule {
  static forRoot(options: AppConfigOptions = {}): DynamicModule {
    const overrides = options.overrides ?? {};
    return {
      module: AppConfigModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          cache: true,
          // Tests must not pick up a developer's .env.
          ignoreEnvFile: (overrides.NODE_ENV ?? process.env.NODE_ENV) === 'test',
          validate: (raw) => validateEnvironment({ ...raw, ...overrides }),
          // Read only the validated values: @nestjs/config copies them into process.env, so
          // falling back to process.env would let one app see another's settings in tests.
          skipProcessEnv: true,
        }),
      ],
      exports: [ConfigModule],
    };
  }
}
