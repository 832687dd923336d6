import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleStale, FRESHNESS_MS, SKEW_MS } from '../src/terminal/engine.js';

test('a bundle is stale past its freshness limit', () => {
  const now = Date.parse('2026-12-03T08:00:00Z');
  assert.equal(bundleStale(now - FRESHNESS_MS, now), false);
  assert.equal(bundleStale(now - FRESHNESS_MS - 1, now), true);
});

test('a bundle issued later than now + skew is stale, within the skew it is not', () => {
  const now = Date.parse('2026-12-03T08:00:00Z');
  assert.equal(bundleStale(now + SKEW_MS, now), false);
  assert.equal(bundleStale(now + SKEW_MS + 1, now), true);
  assert.equal(bundleStale(now + 2 * 3600 * 1000, now), true);
  assert.equal(bundleStale(NaN, now), true);
});
