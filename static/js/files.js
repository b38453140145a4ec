// The one module that hands a file to the worker: the share sheet where the browser takes files (Bluetooth,
// a messaging app, the Files app), else a download. Nothing is kept: the bytes live only for this call.

// Answers "shared", "downloaded" or "cancelled" (the worker closed the share sheet).
export async function handOver(bytes, name, type = "application/zip") {
  const file = new File([bytes], name, { type });
  if (navigator.canShare && navigator.canShare({ files: [file] })) {
    try {
      await navigator.share({ files: [file] });
      return "shared";
    } catch (error) {
      if (error && error.name === "AbortError") return "cancelled";
      // Not allowed here (no gesture, a policy): a download instead.
    }
  }
  const url = URL.createObjectURL(file);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // the download has its own copy by then
  return "downloaded";
}
