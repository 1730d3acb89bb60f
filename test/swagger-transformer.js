// ts-jest wrapper around @nestjs/swagger's compiler plugin (the one `nest build` runs via
// nest-cli.json), so DTO metadata in tests matches the built app. Keep options in step.
const transformer = require('@nestjs/swagger/plugin');

module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (cs) =>
  transformer.before({ introspectComments: true, classValidatorShim: true }, cs.program);
