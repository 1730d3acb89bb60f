export { AppConfigModule, AppConfigOptions } from './app-config.module';
export {
  EnvironmentVariables,
  LOG_LEVELS,
  LogLevel,
  NodeEnv,
  DEVELOPMENT_ENCRYPTION_KEY,
} from './environment-variables';
export { validateEnvironment, InvalidEnvironmentError } from './validate-environment';
export { UnsupportedSetupError } from './unsupported-setup.error';
