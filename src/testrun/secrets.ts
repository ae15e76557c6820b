// The paths `tsvisor test` hides by default: credentials a test suite has no
// business reading (docs/testrun.md, "Hidden by default"). Each is hidden
// in the caller's home and in /root (the sandbox's root may read both);
// the system's own secrets are hidden too. A hidden path reads as missing
// (ENOENT) and each attempt is reported; --show PATH un-hides one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Below a home directory. */
export const HOME_SECRETS: readonly string[] = [
  // ssh, gpg, password stores
  '.ssh',
  '.gnupg',
  '.password-store',
  '.local/share/keyrings',
  // cloud providers
  '.aws',
  '.azure',
  '.config/gcloud',
  '.oci',
  '.config/doctl',
  '.config/hcloud',
  '.s3cfg',
  '.boto',
  '.config/rclone',
  // containers and clusters
  '.docker/config.json',
  '.config/containers/auth.json',
  '.kube',
  '.tsh',
  // package registries
  '.npmrc',
  '.pypirc',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.m2/settings-security.xml',
  // source hosting
  '.netrc',
  '.git-credentials',
  '.config/git/credentials',
  '.config/gh',
  '.config/hub',
  '.config/glab-cli',
  // infrastructure tools
  '.terraform.d/credentials.tfrc.json',
  '.vault-token',
  '.config/op',
  '.config/sops',
  // databases
  '.pgpass',
  '.my.cnf',
  // shell and REPL histories (typed secrets)
  '.bash_history',
  '.zsh_history',
  '.python_history',
  '.node_repl_history',
  '.psql_history',
  '.mysql_history',
];

/** The system's secrets (the sandbox's root could read them). */
export const SYSTEM_SECRETS: readonly string[] = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/security/opasswd',
  '/etc/ssl/private',
  '/etc/letsencrypt',
  '/etc/kubernetes/admin.conf',
  '/etc/kubernetes/pki',
  '/etc/docker/key.json',
  // Kubernetes service account tokens, Docker and Compose secrets
  '/var/run/secrets',
  '/run/secrets',
];

/** The home directories whose secrets are hidden: the caller's ($HOME and the password file's) and root's. */
export function secretHomes(): string[] {
  const homes = new Set<string>(['/root']);
  if (process.env.HOME && path.isAbsolute(process.env.HOME)) homes.add(path.resolve(process.env.HOME));
  try {
    homes.add(os.userInfo().homedir);
  } catch {
    /* no password file entry */
  }
  return [...homes];
}

/** The host's ssh host private keys (/etc/ssh/ssh_host_*_key). */
function sshHostKeys(): string[] {
  try {
    return fs.readdirSync('/etc/ssh').filter((n) => /^ssh_host_.*_key$/.test(n)).map((n) => `/etc/ssh/${n}`);
  } catch {
    return [];
  }
}

/** Every path hidden by default, absolute, sorted. */
export function defaultHidden(): string[] {
  const out = new Set<string>([...SYSTEM_SECRETS, ...sshHostKeys()]);
  for (const home of secretHomes()) for (const rel of HOME_SECRETS) out.add(path.join(home, rel));
  return [...out].sort();
}
