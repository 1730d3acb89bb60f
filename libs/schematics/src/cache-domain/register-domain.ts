import { normalize } from '@angular-devkit/core';
import { SchematicsException } from '@angular-devkit/schematics';
import { DeclarationOptions, ModuleImportDeclarator, ModuleMetadataDeclarator } from '@nestjs/schematics';
import * as ts from 'typescript';

/**
 * Text edits that register a generated domain in the BFF's composition files.
 * Each one is idempotent (a second run changes nothing) and fails loudly when
 * the file no longer has the shape it edits, rather than skipping silently.
 */

export interface ModuleImport {
  /** The class to import, e.g. `WidgetsModule`. */
  symbol: string;
  /** The file that declares it, without extension, from the project root: `apps/bff/src/widgets/widgets.module`. */
  from: string;
}

function parse(content: string): ts.SourceFile {
  return ts.createSourceFile('file.ts', content, ts.ScriptTarget.Latest, true);
}

function importsSymbol(source: ts.SourceFile, symbol: string): boolean {
  return source.statements.some(
    (s) =>
      ts.isImportDeclaration(s) &&
      s.importClause?.namedBindings !== undefined &&
      ts.isNamedImports(s.importClause.namedBindings) &&
      s.importClause.namedBindings.elements.some((e) => e.name.text === symbol),
  );
}

/** The options of @nestjs/schematics' declarators that import `target` into `filePath` (and its @Module's imports). */
function declaration(target: ModuleImport, filePath: string): DeclarationOptions {
  const slash = target.from.lastIndexOf('/');
  return {
    metadata: 'imports',
    symbol: target.symbol,
    name: target.from.slice(slash + 1),
    path: normalize(`/${target.from.slice(0, slash)}`),
    module: normalize(`/${filePath}`),
  };
}

/** The `imports` array of the file's @Module({...}) decorator, if it is a literal array. */
function moduleImportsArray(source: ts.SourceFile): ts.ArrayLiteralExpression | undefined {
  let found: ts.ArrayLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (found) return;
    if (
      ts.isDecorator(node) &&
      ts.isCallExpression(node.expression) &&
      ts.isIdentifier(node.expression.expression) &&
      node.expression.expression.text === 'Module'
    ) {
      const [metadata] = node.expression.arguments;
      if (metadata && ts.isObjectLiteralExpression(metadata)) {
        for (const property of metadata.properties) {
          if (
            ts.isPropertyAssignment(property) &&
            property.name.getText(source) === 'imports' &&
            ts.isArrayLiteralExpression(property.initializer)
          ) {
            found = property.initializer;
          }
        }
      }
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * Adds `symbol` to the `imports` of the @Module in `content` (a file at
 * `modulePath`) and imports it from `target.from`, each only when missing.
 * The edits are @nestjs/schematics' own (what `nest g module` does).
 */
export function addModuleImport(content: string, modulePath: string, target: ModuleImport): string {
  const options = declaration(target, modulePath);
  let next = new ModuleMetadataDeclarator().declare(content, options);
  const imported = moduleImportsArray(parse(next))?.elements.some(
    (e) => ts.isIdentifier(e) && e.text === target.symbol,
  );
  if (!imported) {
    throw new SchematicsException(
      `${modulePath}: could not add ${target.symbol} to the imports of its @Module (expected a literal array); add it by hand`,
    );
  }
  if (!importsSymbol(parse(next), target.symbol)) next = new ModuleImportDeclarator().declare(next, options);
  return next;
}

/** The initializer of `const <name> = [...]` (through `as`/`satisfies`), if the file declares one. */
function arrayConstant(source: ts.SourceFile, name: string): ts.ArrayLiteralExpression | undefined {
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (!ts.isIdentifier(declaration.name) || declaration.name.text !== name) continue;
      let initializer = declaration.initializer;
      while (initializer && (ts.isAsExpression(initializer) || ts.isSatisfiesExpression(initializer))) {
        initializer = initializer.expression;
      }
      if (initializer && ts.isArrayLiteralExpression(initializer)) return initializer;
    }
  }
  return undefined;
}

/** Appends the string `value` to the array constant `name` (e.g. CDC_STREAMS) unless it is there already. */
export function appendToArrayConstant(content: string, filePath: string, name: string, value: string): string {
  return appendElement(content, filePath, name, `'${value}'`, (e) => ts.isStringLiteralLike(e) && e.text === value);
}

/**
 * Appends `target.symbol` (a class, e.g. a migration) to the array constant `name`
 * (e.g. BFF_MIGRATIONS) and imports it from `target.from`, each only when missing.
 */
export function appendImportedToArrayConstant(
  content: string,
  filePath: string,
  name: string,
  target: ModuleImport,
): string {
  const next = appendElement(
    content,
    filePath,
    name,
    target.symbol,
    (e) => ts.isIdentifier(e) && e.text === target.symbol,
  );
  if (importsSymbol(parse(next), target.symbol)) return next;
  return new ModuleImportDeclarator().declare(next, declaration(target, filePath));
}

function appendElement(
  content: string,
  filePath: string,
  name: string,
  element: string,
  isElement: (e: ts.Expression) => boolean,
): string {
  const source = parse(content);
  const array = arrayConstant(source, name);
  if (!array) throw new SchematicsException(`${filePath}: no array constant ${name} to add ${element} to`);
  if (array.elements.some(isElement)) return content;
  const last = array.elements[array.elements.length - 1];
  if (!last) return content.slice(0, array.getEnd() - 1) + element + content.slice(array.getEnd() - 1);
  // Keep the array's layout: one per line when the last element sits on its own line.
  const separator = /^\r?\n[ \t]*/.exec(last.getFullText(source))?.[0] ?? ' ';
  return content.slice(0, last.getEnd()) + `,${separator}${element}` + content.slice(last.getEnd());
}
