// The only module that touches the microphone, MediaRecorder, the screen wake lock and image decoding. No
// words and no storage here: the recorder hands each slice to its caller as it is made.

export const AUDIO_BITS_PER_SECOND = 24000; // mono speech, ODK's middle preset
export const SLICE_MS = 1000; // what a tab killed mid-recording can lose at most
const PHOTO_MAX_SIDE = 1600;
const PHOTO_QUALITY = 0.8;
const THUMB_SIDE = 160;

// Safari records WebM that it cannot play back, so MP4 comes first there; Chrome on Android records Opus in WebM.
export function recordingType() {
  if (typeof MediaRecorder === "undefined" || !navigator.mediaDevices?.getUserMedia) return null;
  const apple = /Apple/.test(navigator.vendor || "");
  const types = apple
    ? ["audio/mp4", "audio/webm;codecs=opus", "audio/webm"]
    : ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
  return types.find((type) => MediaRecorder.isTypeSupported(type)) || null;
}

// The container alone ("audio/webm"), as the report document names it.
export const baseType = (type) => String(type || "").split(";")[0].trim().toLowerCase();

// Bytes the browser says this site may still store, or null where it does not say.
export async function storageLeft() {
  try {
    const { quota, usage } = await navigator.storage.estimate();
    return Number.isFinite(quota) && Number.isFinite(usage) ? Math.max(0, quota - usage) : null;
  } catch {
    return null;
  }
}

async function holdScreenOn() {
  try {
    return await navigator.wakeLock.request("screen");
  } catch {
    return null; // not offered, or refused (battery saver): recording goes on anyway
  }
}

// Starts recording from the microphone. `onSlice(bytes)` gets each slice in order (awaited one at a time, so
// none is lost or reordered); `onLevel(0…1)` the loudness, several times a second. Rejects if the
// microphone is refused or missing.
export async function startRecording({ onSlice, onLevel = () => {}, type = recordingType() }) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  let recorder;
  try {
    recorder = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: AUDIO_BITS_PER_SECOND });
  } catch {
    recorder = new MediaRecorder(stream); // the browser's own choice of type and rate
  }
  let wakeLock = await holdScreenOn();
  let writing = Promise.resolve();
  let failure = null;
  recorder.addEventListener("dataavailable", (event) => {
    if (!event.data || !event.data.size) return;
    const data = event.data;
    writing = writing
      .then(async () => onSlice(new Uint8Array(await data.arrayBuffer())))
      .catch((error) => {
        failure = failure || error;
      });
  });

  const audio = new AudioContext();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 512;
  audio.createMediaStreamSource(stream).connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  const levelTimer = setInterval(() => {
    analyser.getByteTimeDomainData(samples);
    let peak = 0;
    for (const sample of samples) peak = Math.max(peak, Math.abs(sample - 128));
    onLevel(recorder.state === "recording" ? Math.min(1, peak / 100) : 0);
  }, 100);

  const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve, { once: true }));
  recorder.start(SLICE_MS);
  let startedAt = performance.now();
  let elapsedBefore = 0;

  return {
    mime: baseType(recorder.mimeType || type),
    get state() {
      return recorder.state;
    },
    // Time recorded so far, pauses left out.
    elapsedMs() {
      return elapsedBefore + (recorder.state === "recording" ? performance.now() - startedAt : 0);
    },
    pause() {
      if (recorder.state !== "recording") return;
      elapsedBefore += performance.now() - startedAt;
      recorder.pause();
      recorder.requestData(); // what was said before the pause is kept now
    },
    async resume() {
      if (recorder.state !== "paused") return;
      startedAt = performance.now();
      recorder.resume();
      if (!wakeLock || wakeLock.released) wakeLock = await holdScreenOn();
    },
    // Ends the recording; resolves once every slice was handed over, or rejects with the first failure.
    async stop() {
      const elapsed = this.elapsedMs();
      if (recorder.state !== "inactive") recorder.stop();
      await stopped;
      clearInterval(levelTimer);
      stream.getTracks().forEach((track) => track.stop());
      audio.close().catch(() => null);
      wakeLock?.release().catch(() => null);
      await writing;
      if (failure) throw failure;
      return elapsed;
    },
  };
}

async function canvasJpeg(bitmap, width, height, quality) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  const blob = await canvas.convertToBlob({ type: "image/jpeg", quality });
  return new Uint8Array(await blob.arrayBuffer());
}

// A photo drawn afresh through a canvas: only its pixels survive (no EXIF, GPS, maker or serial number). The
// browser applies the camera's orientation while decoding, so nothing is rotated here. Rejects on a file
// that is not an image.
export async function redrawPhoto(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  try {
    const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const thumbScale = Math.min(1, THUMB_SIDE / Math.max(width, height));
    return {
      bytes: await canvasJpeg(bitmap, width, height, PHOTO_QUALITY),
      thumb: await canvasJpeg(bitmap, Math.max(1, Math.round(width * thumbScale)), Math.max(1, Math.round(height * thumbScale)), 0.7),
      mime: "image/jpeg",
      width,
      height,
    };
  } finally {
    bitmap.close();
  }
}

// A thumbnail of photo bytes already redrawn (a draft resumed), for the open form only.
export async function thumbnailOf(bytes) {
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
  try {
    const scale = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height));
    return await canvasJpeg(bitmap, Math.max(1, Math.round(bitmap.width * scale)), Math.max(1, Math.round(bitmap.height * scale)), 0.7);
  } finally {
    bitmap.close();
  }
}

// A short-lived address for bytes shown or played in the open form; the caller revokes it.
export function objectUrl(bytes, type) {
  return URL.createObjectURL(new Blob([bytes], { type }));
}

export function revokeUrl(url) {
  if (url) URL.revokeObjectURL(url);
}
