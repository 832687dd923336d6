// Device storage of the passenger app, in IndexedDB:
//   device_key: the CryptoKeyPair made here with a non-extractable private
//               key (structured clone keeps it non-extractable);
//   pass:       {account_id, certificate, pass, saved_at}, so the code keeps
//               being drawn with the network cut until the pass ends.
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

/** loadPass returns the stored {account_id, certificate, pass} or null. */
export async function loadPass() {
  try {
    return (await getItem('pass')) || null;
  } catch {
    return null;
  }
}

/** savePass stores the certificate and its current pass. */
export function savePass(accountId, certificate, pass) {
  return putItem('pass', { account_id: accountId ?? null, certificate, pass, saved_at: Date.now() });
}

/** clearDevice deletes the device key, the pass and the certificate (R4). */
export async function clearDevice() {
  try {
    await delItem('pass');
    await delItem('device_key');
  } catch {
    // Storage that cannot be opened holds nothing to delete.
  }
}
