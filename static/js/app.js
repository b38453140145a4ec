// Placeholder until the shell lands: registers the service worker.
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js");
