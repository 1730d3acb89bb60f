import { addModuleImport, appendToArrayConstant } from './register-domain';

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
