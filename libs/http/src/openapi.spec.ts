import type { OpenAPIObject } from '@nestjs/swagger';
import { completeDocument, ERROR_BODY_SCHEMA } from './openapi';

function document(): OpenAPIObject {
  return {
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/things/{id}': {
        get: {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: '',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
            },
            '304': { description: '', headers: { ETag: { required: true, schema: { type: 'string' } } } },
            '404': { description: 'not found' },
          },
        },
        put: {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/PutThing' } } },
          },
          responses: { '200': { description: '' } },
        },
      },
    },
    components: {
      schemas: {
        Thing: { type: 'object', properties: { id: { type: 'string' } } },
        PutThing: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            code: { type: 'string', pattern: '^[A-Z]+$' },
            when: { type: 'string', format: 'date' },
            part: { $ref: '#/components/schemas/Part' },
          },
        },
        Part: { type: 'object', properties: { label: { type: 'string' } } },
      },
    },
  };
}

describe('completeDocument', () => {
  const doc = completeDocument(document());
  const get = doc.paths['/things/{id}'].get!;
  const put = doc.paths['/things/{id}'].put!;
  const schemas = doc.components!.schemas as Record<string, any>;

  it('gives every error answer the shared ErrorBody, and body methods their 400, 413 and 415', () => {
    expect(schemas[ERROR_BODY_SCHEMA].required).toEqual(['statusCode', 'message', 'error']);
    expect((get.responses['404'] as any).content['application/json'].schema.$ref).toBe(
      `#/components/schemas/${ERROR_BODY_SCHEMA}`,
    );
    expect(Object.keys(get.responses).sort()).toEqual(['200', '304', '404']);
    expect(Object.keys(put.responses).sort()).toEqual(['200', '400', '413', '415']);
  });

  it('copies the validators of a 304 onto the success answer, and X-Request-Id onto every answer', () => {
    expect(Object.keys((get.responses['200'] as any).headers).sort()).toEqual(['ETag', 'X-Request-Id']);
    expect((put.responses['415'] as any).headers['X-Request-Id'].required).toBe(true);
  });

  it('closes request schemas and what they refer to; free text excludes NUL', () => {
    expect(schemas.PutThing.additionalProperties).toBe(false);
    expect(schemas.Part.additionalProperties).toBe(false);
    const noNul = new RegExp(schemas.PutThing.properties.name.pattern, 'u');
    expect(noNul.test('a\u0000b')).toBe(false);
    expect(noNul.test('ab')).toBe(true);
    expect(schemas.PutThing.properties.code.pattern).toBe('^[A-Z]+$');
    expect(schemas.PutThing.properties.when.pattern).toBeUndefined();
    expect(new RegExp((get.parameters![0] as any).schema.pattern, 'u').test('x\u0000')).toBe(false);
  });
});
