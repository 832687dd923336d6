// Device storage of the passenger app, in IndexedDB:
//   device_key: the CryptoKeyPair made here with a non-extractable private
//               key (structured clone keeps it non-extractable);
//   passes:     {[certificate id]: {account_id, certificate, pass, saved_at}},
//               one entry per certificate (the passenger's own and those of
//               companions applied for on this phone), so that each code
//               keeps being drawn with the network cut until its pass ends.
//   pass:       the single entry that older versions kept; read, never
//               written.
// Logging out deletes all of it (R4), so the next view needs a face check.

const DB_NAME = 'tempid';
const STORE = 'kv';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const store = t.objectStore(STORE);
      const req = fn(store);
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

const getItem = (k) => tx('readonly', (s) => s.get(k));
const putItem = (k, v) => tx('readwrite', (s) => s.put(v, k));
const delItem = (k) => tx('readwrite', (s) => s.delete(k));

/** getDeviceKey returns the stored CryptoKeyPair or null. */
export async function getDeviceKey() {
  try {
    return (await getItem('device_key')) || null;
  } catch {
    return null;
  }
}

/** publicJwk returns the device's public key as a JWK with kty, crv, x and y only. */
export async function publicJwk(keyPair) {
  const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/**
 * ensureDeviceKey returns the device key, making and storing a new
 * non-extractable P-256 key pair first if none is stored.
 */
export async function ensureDeviceKey() {
  let kp = await getDeviceKey();
  if (!kp) {
    kp = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    await putItem('device_key', kp);
  }
  return kp;
}

/**
 * loadPasses returns the stored entries ({account_id, certificate, pass,
 * saved_at}), newest first.
 */
export async function loadPasses() {
  try {
    const all = { ...((await getItem('passes')) || {}) };
    const old = await getItem('pass');
    if (old?.certificate?.id && !all[old.certificate.id]) all[old.certificate.id] = old;
    return Object.values(all).sort((a, b) => (b.saved_at || 0) - (a.saved_at || 0));
  } catch {
    return [];
  }
}

/** loadPass returns the newest stored entry or null. */
export async function loadPass() {
  return (await loadPasses())[0] || null;
}

const samePerson = (a, b) => a?.holder?.id_number_masked === b?.holder?.id_number_masked
  && a?.holder?.name_masked === b?.holder?.name_masked;

// showable tells whether a stored certificate may still draw codes; the
// others are history, which the server keeps.
const showable = (c) => c?.status === 'active' && Date.now() < Date.parse(c.expires_at);

/**
 * savePass stores a certificate and its current pass beside the others. A
 * new certificate supersedes the person's old one (one active certificate
 * per person), so an entry of the same person under another id goes, as
 * do entries that can no longer draw codes.
 */
export async function savePass(accountId, certificate, pass) {
  const all = {};
  for (const e of await loadPasses()) {
    if (e.certificate.id !== certificate.id && !samePerson(e.certificate, certificate) && showable(e.certificate)) all[e.certificate.id] = e;
  }
  all[certificate.id] = { account_id: accountId ?? null, certificate, pass, saved_at: Date.now() };
  await putItem('passes', all);
  await delItem('pass');
}

/**
 * updateCertificate replaces the stored certificate of an entry (its
 * status as the server now tells it), keeping its pass.
 */
export async function updateCertificate(certificate) {
  const list = await loadPasses();
  const e = list.find((x) => x.certificate.id === certificate.id);
  if (!e) return;
  const all = Object.fromEntries(list.map((x) => [x.certificate.id, x]));
  all[certificate.id] = { ...e, certificate: { ...e.certificate, ...certificate } };
  await putItem('passes', all);
  await delItem('pass');
}

/** clearDevice deletes the device key, the pass and the certificate (R4). */
export async function clearDevice() {
  try {
    await delItem('pass');
    await delItem('passes');
    await delItem('device_key');
  } catch {
    // Storage that cannot be opened holds nothing to delete.
  }
}
