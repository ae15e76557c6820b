// Node opens its inspector, a code-execution endpoint on 127.0.0.1:9229, when
// its process receives SIGUSR1. tsvisor's processes (the CLI, the Sentry, the
// Gofer) run as root and must never do that: a listener of their own
// replaces Node's handler for good. Every entry point imports this first.
process.on('SIGUSR1', () => {});
