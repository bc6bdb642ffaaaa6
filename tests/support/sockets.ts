import * as fs from "node:fs";
import * as os from "node:os";

export interface ListeningSocket {
  /** e.g. `127.0.0.1`, `::1`, `0.0.0.0`, `::` */
  address: string;
  port: number;
}

/** `0100007F` (a little-endian u32 per 4 bytes, as the kernel prints it) → `127.0.0.1`. */
function ipv4(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");
}

/** 32 hex digits (four little-endian u32s) → an IPv6 address, `::` shortened by URL's own rules. */
function ipv6(hex: string): string {
  const bytes: string[] = [];
  for (let word = 0; word < 4; word++) {
    const chunk = hex.slice(word * 8, word * 8 + 8);
    for (const i of [3, 2, 1, 0]) bytes.push(chunk.slice(i * 2, i * 2 + 2));
  }
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(`${bytes[i]}${bytes[i + 1]}`);
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/** The socket inodes a process holds open (`/proc/<pid>/fd/* → socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match !== null) inodes.add(match[1]);
    } catch {
      // Closed while listing.
    }
  }
  return inodes;
}

/**
 * Every TCP socket process `pid` listens on, read from the kernel's tables (`/proc/<pid>/net/tcp`
 * and `tcp6`, state 0A = LISTEN) and matched to the process by inode, as `ss -ltnp` does. Linux only.
 */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = socketInodes(pid);
  const sockets: ListeningSocket[] = [];
  for (const [file, parse] of [
    ["tcp", ipv4],
    ["tcp6", ipv6],
  ] as const) {
    let table: string;
    try {
      table = fs.readFileSync(`/proc/${pid}/net/${file}`, "utf8");
    } catch {
      continue; // No IPv6 in this kernel.
    }
    for (const line of table.trim().split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (state !== "0A" || !inodes.has(inode)) continue;
      const [address, port] = local.split(":");
      sockets.push({ address: parse(address), port: parseInt(port, 16) });
    }
  }
  return sockets;
}

/** Loopback only: 127.0.0.0/8, ::1, or an IPv4-mapped loopback address. */
export const isLoopback = (address: string): boolean =>
  /^127\./.test(address) || address === "::1" || /^::ffff:127\./i.test(address) || /^::ffff:7f/i.test(address);

/** This machine's addresses other than loopback: where another machine would connect. */
export function externalAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((info) => info !== undefined && !info.internal && !info.address.startsWith("fe80:"))
    .map((info) => (info as os.NetworkInterfaceInfo).address);
}

/** The process and its descendants, from `/proc/<pid>/task/<tid>/children`. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue; // Exited meanwhile.
    }
    for (const tid of tasks) {
      try {
        const children = fs.readFileSync(`/proc/${all[i]}/task/${tid}/children`, "utf8").trim();
        if (children !== "") all.push(...children.split(/\s+/).map(Number));
      } catch {
        // Exited meanwhile.
      }
    }
  }
  return all;
}
