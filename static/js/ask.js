// One question to another context (the page or its service worker) over a MessageChannel, and its answer:
// `fallback` if none comes within `timeoutMs` (the other side may be gone, or unable to answer). No DOM.

export function ask(target, question, timeoutMs, fallback) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(fallback), timeoutMs);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      resolve(event.data);
    };
    target.postMessage(question, [channel.port2]);
  });
}
