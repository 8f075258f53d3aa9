import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml } from './escape-html.js';

test('escapeHtml escapes the characters that end text or a quoted attribute, & first', () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&amp;</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
  );
  assert.equal(escapeHtml('plain text · ünïcode'), 'plain text · ünïcode');
});

test('escapeHtml renders null and undefined as nothing and other values as their string', () => {
  assert.equal(escapeHtml(null), '');
  assert.equal(escapeHtml(undefined), '');
  assert.equal(escapeHtml(0), '0');
  assert.equal(escapeHtml(false), 'false');
});
