import { addModuleImport, appendImportedToArrayConstant, appendToArrayConstant } from './register-domain';

const FILE = 'apps/bff/src/domains.module.ts';
const WIDGETS = { symbol: 'WidgetsModule', from: 'apps/bff/src/widgets/widgets.module' };

describe('addModuleImport', () => {
  it('adds the import after the last one and the symbol to @Module imports', () => {
    const content = `import { Module } from '@nestjs/common';\nimport { A } from './a/a.module';\n\n@Module({ imports: [A] })\nexport class M {}\n`;
    expect(addModuleImport(content, FILE, WIDGETS)).toBe(
      `import { Module } from '@nestjs/common';\nimport { A } from './a/a.module';\nimport { WidgetsModule } from './widgets/widgets.module';\n\n@Module({ imports: [A, WidgetsModule] })\nexport class M {}\n`,
    );
  });

  it('keeps a one-per-line layout', () => {
    const content = `import { Module } from '@nestjs/common';\n\n@Module({\n  imports: [\n    A,\n    B,\n  ],\n})\nexport class M {}\n`;
    expect(addModuleImport(content, FILE, WIDGETS)).toContain(`  imports: [\n    A,\n    B,\n    WidgetsModule,\n  ],`);
  });

  it('fills an empty array and creates a missing imports entry', () => {
    const empty = `import { Module } from '@nestjs/common';\n\n@Module({ imports: [] })\nexport class M {}\n`;
    expect(addModuleImport(empty, FILE, WIDGETS)).toContain('imports: [WidgetsModule]');
    const none = `import { Module } from '@nestjs/common';\n\n@Module({ providers: [] })\nexport class M {}\n`;
    expect(addModuleImport(none, FILE, WIDGETS)).toContain('imports: [WidgetsModule]');
  });

  it('changes nothing the second time', () => {
    const content = `import { Module } from '@nestjs/common';\n\n@Module({ imports: [] })\nexport class M {}\n`;
    const once = addModuleImport(content, FILE, WIDGETS);
    expect(addModuleImport(once, FILE, WIDGETS)).toBe(once);
  });

  it('refuses imports it cannot edit rather than skipping them', () => {
    const content = `import { Module } from '@nestjs/common';\n\nconst ALL = [A];\n\n@Module({ imports: ALL })\nexport class M {}\n`;
    expect(() => addModuleImport(content, FILE, WIDGETS)).toThrow(/could not add WidgetsModule/);
  });
});

describe('appendToArrayConstant', () => {
  const add = (content: string) => appendToArrayConstant(content, 'f.ts', 'CDC_STREAMS', 'cdc.widgets.v1');

  it('appends on one line', () => {
    expect(add(`export const CDC_STREAMS: string[] = ['cdc.a.v1'];\n`)).toBe(
      `export const CDC_STREAMS: string[] = ['cdc.a.v1', 'cdc.widgets.v1'];\n`,
    );
  });

  it('keeps one per line, a trailing comma and `as const`', () => {
    expect(add(`export const CDC_STREAMS = [\n  'cdc.a.v1',\n] as const;\n`)).toBe(
      `export const CDC_STREAMS = [\n  'cdc.a.v1',\n  'cdc.widgets.v1',\n] as const;\n`,
    );
  });

  it('fills an empty array', () => {
    expect(add(`export const CDC_STREAMS: string[] = [];\n`)).toBe(
      `export const CDC_STREAMS: string[] = ['cdc.widgets.v1'];\n`,
    );
  });

  it('changes nothing when the value is there', () => {
    const content = `export const CDC_STREAMS = ["cdc.widgets.v1"];\n`;
    expect(add(content)).toBe(content);
  });

  it('fails when the constant is missing', () => {
    expect(() => add(`export const OTHER = [];\n`)).toThrow(/no array constant CDC_STREAMS/);
  });
});

describe('appendImportedToArrayConstant', () => {
  const INDEX = 'apps/bff/src/migrations/index.ts';
  const CAPTURE = {
    symbol: 'WidgetsCapture1800000000000',
    from: 'apps/bff/src/migrations/1800000000000-widgets-capture',
  };
  const add = (content: string) => appendImportedToArrayConstant(content, INDEX, 'BFF_MIGRATIONS', CAPTURE);
  const MIGRATIONS = `import { A1 } from './1-a';\nimport { B2 } from './2-b';\n\nexport const BFF_MIGRATIONS = [\n  A1,\n  B2,\n];\n`;

  it('appends the class after the last one and imports it after the last import', () => {
    expect(add(MIGRATIONS)).toBe(
      `import { A1 } from './1-a';\nimport { B2 } from './2-b';\n` +
        `import { WidgetsCapture1800000000000 } from './1800000000000-widgets-capture';\n\n` +
        `export const BFF_MIGRATIONS = [\n  A1,\n  B2,\n  WidgetsCapture1800000000000,\n];\n`,
    );
  });

  it('changes nothing the second time', () => {
    const once = add(MIGRATIONS);
    expect(add(once)).toBe(once);
  });

  it('tells the class from a string of the same text', () => {
    const content = `export const BFF_MIGRATIONS = ['WidgetsCapture1800000000000'];\n`;
    expect(add(content)).toContain(`['WidgetsCapture1800000000000', WidgetsCapture1800000000000]`);
  });

  it('fails when the constant is missing', () => {
    expect(() => add(`export const OTHER = [];\n`)).toThrow(/no array constant BFF_MIGRATIONS/);
  });
});
