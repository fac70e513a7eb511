// Loaded with `node --require` before dynalite's cli.js. dynalite throws from
// a request's 'error' handler when a client aborts a request mid-way (a Go
// context cancelled during a call), and the uncaught exception kills the
// whole server. Log those aborts and keep serving; anything else still
// crashes the process.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('dynalite-guard: a client aborted a request:', err.message);
    return;
  }
  console.error(err);
  process.exit(1);
});
