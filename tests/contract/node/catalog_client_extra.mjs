#!/usr/bin/env node
// Greenroom's own checks with the real @backstage/catalog-client, for the client methods that
// client_check.mjs (the shared conformance script) does not exercise.
//
//   node catalog_client_extra.mjs --base-url http://127.0.0.1:7007 \
//        --catalog-dir <folder written by gen_catalog.py, already ingested> \
//        --scratch-dir <empty folder the server may read, for extra descriptor files>
//
// Prints PASS/FAIL per check and a final line "N passed, M failed"; exit code 1 on failures.
// The script must sit next to a node_modules folder holding @backstage/catalog-client.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CatalogClient } from '@backstage/catalog-client';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback;
};
const baseUrl = option('--base-url', 'http://127.0.0.1:7007').replace(/\/+$/, '');
const catalogDir = path.resolve(option('--catalog-dir', '.'));
const scratchDir = path.resolve(option('--scratch-dir', path.join(catalogDir, '..', 'scratch')));
const timeoutMs = Number(option('--timeout', '120')) * 1000;

const manifest = JSON.parse(readFileSync(path.join(catalogDir, 'manifest.json'), 'utf8'));
const rootTarget = path.join(catalogDir, manifest.root);
const apiBase = `${baseUrl}/api/catalog`;
const catalog = new CatalogClient({
  discoveryApi: { getBaseUrl: async pluginId => `${baseUrl}/api/${pluginId}` },
});

let passed = 0;
let failed = 0;

function ensure(condition, message) {
  if (!condition) throw new Error(message);
}

async function check(name, body) {
  const started = Date.now();
  try {
    const note = await body();
    passed += 1;
    console.log(`PASS ${name} (${Date.now() - started} ms)${note ? ` - ${note}` : ''}`);
  } catch (error) {
    failed += 1;
    const text = error && error.stack ? error.stack.split('\n').slice(0, 3).join(' | ') : String(error);
    console.log(`FAIL ${name} - ${text}`);
  }
}

const refOf = entity =>
  `${entity.kind}:${entity.metadata.namespace ?? 'default'}/${entity.metadata.name}`.toLowerCase();
const sameSet = (a, b) => a.size === b.size && [...a].every(x => b.has(x));
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function waitFor(what, probe) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function descriptor(name, extra = '') {
  return [
    'apiVersion: backstage.io/v1alpha1',
    'kind: Component',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  type: service',
    '  lifecycle: experimental',
    '  owner: group:default/extra-owners',
    extra,
  ].join('\n');
}

const expectedComponents = new Set(manifest.refsByKind.Component.map(r => r.toLowerCase()));

// ---------------------------------------------------------------- paging with offset/limit
await check('getEntities pages with offset/limit without gaps or duplicates', async () => {
  const seen = [];
  const pageSize = 40;
  for (let offset = 0; ; offset += pageSize) {
    const { items } = await catalog.getEntities({
      filter: { kind: 'component' },
      fields: ['kind', 'metadata.name', 'metadata.namespace'],
      order: { field: 'metadata.name', order: 'asc' },
      offset,
      limit: pageSize,
    });
    ensure(items.length <= pageSize, `page of ${items.length} items exceeds limit ${pageSize}`);
    seen.push(...items.map(refOf));
    if (items.length < pageSize) break;
    ensure(offset < 10000, 'paging does not end');
  }
  ensure(seen.length === new Set(seen).size, 'duplicate entities across pages');
  ensure(sameSet(new Set(seen), expectedComponents), `got ${seen.length} components, expected ${expectedComponents.size}`);
  return `${seen.length} components`;
});

// ---------------------------------------------------------------- paging with the Link header's `after`
await check('getEntities follows the Link header cursor with `after`', async () => {
  const pageSize = 50;
  const seen = [];
  let after;
  let pages = 0;
  for (;;) {
    const params = new URLSearchParams({ filter: 'kind=component', limit: String(pageSize), fields: 'kind,metadata' });
    if (after) params.set('after', after);
    const response = await fetch(`${apiBase}/entities?${params}`);
    ensure(response.status === 200, `GET /entities answered ${response.status}`);
    const raw = await response.json();
    // the client, given the same cursor, must see the same page
    const { items } = await catalog.getEntities({
      filter: { kind: 'component' },
      fields: ['kind', 'metadata'],
      limit: pageSize,
      after,
    });
    ensure(
      JSON.stringify(items.map(refOf)) === JSON.stringify(raw.map(refOf)),
      `client page ${pages} differs from the raw page`,
    );
    seen.push(...items.map(refOf));
    pages += 1;
    const link = response.headers.get('link');
    if (!link) break;
    const match = /^<([^>]*)>;\s*rel="next"$/.exec(link);
    ensure(match, `malformed Link header: ${link}`);
    const next = new URL(match[1], baseUrl);
    ensure(next.pathname === '/api/catalog/entities', `Link points at ${next.pathname}`);
    after = next.searchParams.get('after');
    ensure(after, 'Link header without after=');
    ensure(next.searchParams.get('filter') === 'kind=component', 'Link header lost the filter');
    ensure(pages < 100, 'paging does not end');
  }
  ensure(seen.length === new Set(seen).size, 'duplicate entities across pages');
  ensure(sameSet(new Set(seen), expectedComponents), `got ${seen.length} components over ${pages} pages`);
  return `${pages} pages`;
});

// ---------------------------------------------------------------- locations by ref, update, analyze, entity removal
let rootLocation;
await check('getLocationByRef finds the registered root location', async () => {
  rootLocation = await catalog.getLocationByRef(`file:${rootTarget}`);
  ensure(rootLocation, `no location file:${rootTarget}`);
  ensure(rootLocation.type === 'file' && rootLocation.target === rootTarget, JSON.stringify(rootLocation));
  const byId = await catalog.getLocationById(rootLocation.id);
  ensure(byId && byId.id === rootLocation.id && byId.target === rootTarget, `getLocationById: ${JSON.stringify(byId)}`);
  const missing = await catalog.getLocationByRef(`file:${rootTarget}.does-not-exist`);
  ensure(missing === undefined, 'an unknown location ref must give undefined');
});

mkdirSync(path.join(scratchDir, 'empty-folder'), { recursive: true });
const firstFile = path.join(scratchDir, 'first.yaml');
const secondFile = path.join(scratchDir, 'second.yaml');
writeFileSync(firstFile, descriptor('extra-first'));
writeFileSync(secondFile, descriptor('extra-second'));

let scratchLocation;
await check('updateLocation moves a location to another target', async () => {
  const added = await catalog.addLocation({ type: 'file', target: firstFile });
  scratchLocation = added.location;
  await waitFor('extra-first', () => catalog.getEntityByRef('component:default/extra-first'));
  const updated = await catalog.updateLocation(scratchLocation.id, { type: 'file', target: secondFile });
  ensure(updated.id === scratchLocation.id, `id changed: ${JSON.stringify(updated)}`);
  ensure(updated.target === secondFile && updated.type === 'file', `update answered ${JSON.stringify(updated)}`);
  const reread = await catalog.getLocationById(scratchLocation.id);
  ensure(reread.target === secondFile, `stored target is ${reread.target}`);
  ensure(await catalog.getLocationByRef(`file:${secondFile}`), 'getLocationByRef does not see the new target');
  await waitFor('extra-second', () => catalog.getEntityByRef('component:default/extra-second'));
  await waitFor('extra-first to go away', async () => !(await catalog.getEntityByRef('component:default/extra-first')));
});

await check('analyzeLocation of a file location lists its entities', async () => {
  const result = await catalog.analyzeLocation({ location: { type: 'file', target: secondFile } });
  ensure(Array.isArray(result.existingEntityFiles), 'no existingEntityFiles');
  const found = result.existingEntityFiles.find(f => f.entity?.metadata?.name === 'extra-second');
  ensure(found, `extra-second missing from ${JSON.stringify(result).slice(0, 300)}`);
  ensure(found.location.type === 'file' && found.location.target === secondFile, JSON.stringify(found.location));
  ensure(found.isRegistered === true, 'the registered file is reported as not registered');
  const unregistered = await catalog.analyzeLocation({ location: { type: 'file', target: firstFile } });
  ensure(unregistered.existingEntityFiles[0]?.isRegistered === false, 'first.yaml is no longer registered');
  const empty = await catalog.analyzeLocation({ location: { type: 'file', target: path.join(scratchDir, 'empty-folder') } });
  ensure(empty.existingEntityFiles.length === 0, 'an empty folder has no descriptor files');
  ensure(empty.generateEntities.length > 0, 'an empty folder must get an entity suggestion');
  ensure(
    empty.generateEntities[0].fields.every(f => ['analysisSuggestedValue', 'analysisSuggestedNoValue', 'needsUserInput'].includes(f.state)),
    'unknown field state',
  );
});

await check('removeEntityByUid deletes the entity', async () => {
  const entity = await catalog.getEntityByRef('component:default/extra-second');
  ensure(entity?.metadata?.uid, 'extra-second has no uid');
  await catalog.removeEntityByUid(entity.metadata.uid);
  const byUid = await fetch(`${apiBase}/entities/by-uid/${entity.metadata.uid}`);
  ensure(byUid.status === 404, `GET by-uid after delete answered ${byUid.status}`);
  let rejected = false;
  try {
    await catalog.removeEntityByUid(entity.metadata.uid);
  } catch (error) {
    rejected = error?.response?.status === 404 || /404|NotFound/.test(String(error));
  }
  ensure(rejected, 'removing an unknown uid must fail with 404');
  await catalog.removeLocationById(scratchLocation.id);
  ensure((await catalog.getLocationById(scratchLocation.id)) === undefined, 'location still there');
});

// ---------------------------------------------------------------- facets over relations
await check('getEntityFacets of relations.ownedBy counts owned entities', async () => {
  const { facets } = await catalog.getEntityFacets({ facets: ['relations.ownedBy'] });
  const values = facets['relations.ownedBy'];
  ensure(Array.isArray(values) && values.length > 0, `no facet values: ${JSON.stringify(facets)}`);
  ensure(values.every(v => /^[a-z]+:[^/]+\/.+$/.test(v.value) && v.count > 0), 'facet values must be entity refs');
  const groupRefs = new Set(manifest.refsByKind.Group.map(r => r.toLowerCase()));
  ensure(values.some(v => groupRefs.has(v.value.toLowerCase())), 'no group among the owners');
  for (const { value, count } of values.slice(0, 3)) {
    const page = await catalog.queryEntities({ filter: { 'relations.ownedBy': value }, limit: 1 });
    ensure(page.totalItems === count, `${value}: facet count ${count}, query totalItems ${page.totalItems}`);
  }
  return `${values.length} owners`;
});

// ---------------------------------------------------------------- validation
await check('validateEntity rejects an unknown kind and accepts a valid component', async () => {
  const unknown = await catalog.validateEntity(
    { apiVersion: 'backstage.io/v1alpha1', kind: 'Spaceship', metadata: { name: 'enterprise' }, spec: {} },
    'url:https://example.com/catalog-info.yaml',
  );
  ensure(unknown.valid === false, `unknown kind validated: ${JSON.stringify(unknown)}`);
  ensure(unknown.errors.length > 0 && unknown.errors.every(e => e.name && e.message), JSON.stringify(unknown.errors));
  const valid = await catalog.validateEntity(
    {
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: 'valid-one' },
      spec: { type: 'service', lifecycle: 'production', owner: 'group:default/a' },
    },
    'url:https://example.com/catalog-info.yaml',
  );
  ensure(valid.valid === true, `valid component rejected: ${JSON.stringify(valid)}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
