// The camera as a QR scanner, for the staff console and the terminal: it
// films with the back camera and hands each decoded text to onCode, many
// times a second while a code is in view (the caller drops repeats). The
// decoder is jsQR, bundled: no network is needed to scan.
import { useEffect, useRef, useState } from 'preact/hooks';
import jsQR from 'jsqr';
import { html, useLang } from './ui.js';
import { t } from './i18n.js';

export function CameraScanner({ onCode, error: errorText = () => t('staff.camera.error') }) {
  useLang();
  const videoRef = useRef(null);
  const [error, setError] = useState('');
  // The frame loop lives as long as the camera; it calls the latest onCode.
  const onCodeRef = useRef(onCode);
  onCodeRef.current = onCode;
  useEffect(() => {
    let stream = null;
    let raf = 0;
    let stopped = false;
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    let lastScan = 0;
    const loop = () => {
      if (stopped) return;
      raf = requestAnimationFrame(loop);
      const v = videoRef.current;
      if (!v || v.readyState < 2 || performance.now() - lastScan < 150) return;
      lastScan = performance.now();
      const scale = Math.min(1, 960 / Math.max(v.videoWidth, v.videoHeight));
      canvas.width = Math.round(v.videoWidth * scale);
      canvas.height = Math.round(v.videoHeight * scale);
      ctx.drawImage(v, 0, 0, canvas.width, canvas.height);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
      if (found && found.data) onCodeRef.current(found.data);
    };
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
        if (stopped) return stream.getTracks().forEach((tr) => tr.stop());
        videoRef.current.srcObject = stream;
        await videoRef.current.play().catch(() => {});
        loop();
      } catch {
        setError(errorText());
      }
    })();
    return () => {
      stopped = true;
      cancelAnimationFrame(raf);
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, []);
  return html`<div class="camera" data-testid="camera">
    ${error ? html`<div class="alert alert-error">${error}</div>` : html`<video ref=${videoRef} id="camera-video" data-testid="camera-video" playsinline muted></video><div class="camera-aim"></div>`}
  </div>`;
}
