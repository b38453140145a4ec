// The only module that uses the camera: reads a QR code with the browser's BarcodeDetector, where it has one.

export function canScanQr() {
  return "BarcodeDetector" in globalThis && Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

// Shows the camera in `video` until a QR code is read (resolves with its text) or `signal` aborts.
export async function scanQr(video, signal) {
  const detector = new BarcodeDetector({ formats: ["qr_code"] });
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  try {
    video.srcObject = stream;
    await video.play();
    while (!signal.aborted) {
      const found = await detector.detect(video);
      if (found.length && found[0].rawValue) return found[0].rawValue;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return null;
  } finally {
    for (const track of stream.getTracks()) track.stop(); // the camera light goes off at once
    video.srcObject = null;
  }
}
