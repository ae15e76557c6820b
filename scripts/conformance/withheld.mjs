// Tests that need a privilege tsvisor withholds on purpose. They pass
// natively (as real root) and cannot pass in the sandbox by design; the
// report lists them apart, each with its reason, instead of counting them as
// conformance failures. Patterns match "binary:Suite.Case" (gVisor) or the
// runtest tag (LTP). Keep each entry justified by the design it follows.

const RULES = [];

/** The reason a test is excluded, or null. */
export function withheldReason(suite, id) {
  for (const r of RULES) if (r.suite === suite && r.match.test(id)) return r.reason;
  return null;
}
