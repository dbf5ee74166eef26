// Parse Mermaid files (or the ```mermaid blocks of Markdown files) with Mermaid's own parser.
// By hand: npm install --prefix /tmp/mmd mermaid@11 jsdom && NODE_PATH=/tmp/mmd/node_modules \
//   node tests/diff/check_mermaid.mjs tests/diff/golden/*.md tests/diff/golden/*.mmd
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + '/' : import.meta.url);
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(require.resolve('mermaid'));
mermaid.initialize({ startOnLoad: false });
let bad = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  const blocks = file.endsWith('.md') ? [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]) : [text];
  for (const block of blocks) {
    try {
      await mermaid.parse(block);
      console.log('ok', file);
    } catch (e) {
      bad++;
      console.log('FAIL', file, String(e.message || e).slice(0, 300));
    }
  }
}
process.exit(bad ? 1 : 0);
