/** Linux capability names by bit number (linux/capability.h). */
const NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
  'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice',
  'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap',
  'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf',
  'checkpoint_restore',
];

/**
 * Decodes a `security.capability` xattr (struct vfs_cap_data, revisions 1–3) into the names of the
 * permitted and of the inheritable capabilities; undefined when the value is not one.
 */
export function decodeCapabilities(value: Buffer): { names: string[]; inheritable: string[]; effective: boolean } | undefined {
  if (value.length < 12) return undefined;
  const magic = value.readUInt32LE(0);
  const revision = magic & 0xff000000;
  const effective = (magic & 1) === 1;
  const words = revision === 0x01000000 ? 1 : revision === 0x02000000 || revision === 0x03000000 ? 2 : 0;
  if (words === 0 || value.length < 4 + words * 8) return undefined;
  const names: string[] = [];
  const inheritable: string[] = [];
  for (let w = 0; w < words; w++) {
    const permitted = value.readUInt32LE(4 + w * 8);
    const inherited = value.readUInt32LE(8 + w * 8);
    for (let bit = 0; bit < 32; bit++) {
      const name = `cap_${NAMES[w * 32 + bit] ?? `${w * 32 + bit}`}`;
      if (permitted & (1 << bit)) names.push(name);
      if (inherited & (1 << bit)) inheritable.push(name);
    }
  }
  return { names, inheritable, effective };
}

/**
 * Capabilities that give a process root's power back (grsecurity's "false boundaries" list): changing
 * ids, bypassing file permissions, loading code into the kernel, or handing out capabilities.
 */
export const ROOT_EQUIVALENT: ReadonlySet<string> = new Set([
  'cap_chown', 'cap_dac_override', 'cap_dac_read_search', 'cap_fowner', 'cap_fsetid', 'cap_setgid', 'cap_setuid',
  'cap_setpcap', 'cap_setfcap', 'cap_sys_module', 'cap_sys_rawio', 'cap_sys_ptrace', 'cap_sys_admin', 'cap_mknod',
  'cap_bpf', 'cap_sys_chroot', 'cap_linux_immutable', 'cap_mac_override', 'cap_mac_admin', 'cap_net_admin',
  'cap_sys_boot', 'cap_checkpoint_restore', 'cap_perfmon',
]);

/**
 * The root-equivalent capabilities a `security.capability` value can grant; undefined when undecodable.
 * Inheritable ones count: a runtime that gives a process a non-empty inheritable set (as Docker and
 * containerd did before CVE-2022-24769 was fixed) grants an unprivileged user every file capability
 * that is in both.
 */
export function rootEquivalentCapabilities(value: Buffer): string[] | undefined {
  const decoded = decodeCapabilities(value);
  return decoded ? [...new Set([...decoded.names, ...decoded.inheritable])].filter((n) => ROOT_EQUIVALENT.has(n) || /^cap_\d+$/.test(n)) : undefined;
}
