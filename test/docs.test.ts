// The documentation stays true to the CLI: every option `--help` lists is documented in the
// command's section of docs/commands.md, and every relative link of the README and docs/ resolves.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../dist/cli.js';
import { ROOT } from './helpers.js';

const DOCS = path.join(ROOT, 'docs');

/** The text of each `## cnnfeat <command>` section of docs/commands.md, by command name. */
function commandSections(): Map<string, string> {
  const text = readFileSync(path.join(DOCS, 'commands.md'), 'utf8');
  const sections = new Map<string, string>();
  for (const part of text.split(/^## /m).slice(1)) {
    const title = /^cnnfeat (\S+)/.exec(part);
    if (title) sections.set(title[1]!, part);
  }
  return sections;
}

/** Long option names (`--batch-size`) of a command, with those of its sub-commands. */
function longOptions(cmd: Command): string[] {
  const own = cmd.options.map((o) => o.long).filter((l): l is string => Boolean(l));
  return [...own, ...cmd.commands.flatMap((sub) => longOptions(sub))];
}

/** Whether `flag` occurs in `text` as a whole word (not as the start of a longer flag). */
export function mentions(text: string, flag: string): boolean {
  return new RegExp(`(?<![\\w-])${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(text);
}

test('every option --help lists is documented in its command section of docs/commands.md', () => {
  const sections = commandSections();
  const missing: string[] = [];
  for (const cmd of buildProgram().commands) {
    if (cmd.name() === 'help') continue;
    const section = sections.get(cmd.name());
    if (!section) {
      missing.push(`${cmd.name()}: no "## cnnfeat ${cmd.name()}" section`);
      continue;
    }
    for (const flag of longOptions(cmd)) if (!mentions(section, flag)) missing.push(`${cmd.name()} ${flag}`);
  }
  assert.deepEqual(missing, [], `undocumented in docs/commands.md:\n${missing.join('\n')}`);
});

test('the option check tells a flag from a longer one', () => {
  assert.equal(mentions('`--resize-kernel`', '--resize'), false);
  assert.equal(mentions('| `--resize <mode>` |', '--resize'), true);
  assert.equal(mentions('--no-report', '--report'), false);
});

test('relative links in README.md and docs/ point at files that exist', () => {
  const pages = ['README.md', ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(path.join(ROOT, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      if (!existsSync(path.resolve(ROOT, path.dirname(page), target!))) broken.push(`${page} → ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});
