import dns from "dns";
import net from "net";
import type { LookupFunction } from "net";

/**
 * Where a webhook may not point: loopback, private, link-local (cloud
 * metadata's 169.254.169.254 among them), carrier-grade NAT, unique-local,
 * multicast and unspecified addresses, and IPv4 ones mapped into IPv6.
 * Checked when an endpoint is registered and again by the connection's own
 * DNS lookup, so a name that resolves elsewhere at send time (DNS
 * rebinding) is refused too. The allow-list names hosts or addresses that
 * may be reached anyway.
 */

const BLOCKED = new net.BlockList();
for (const [net4, prefix] of [
	["0.0.0.0", 8],
	["10.0.0.0", 8],
	["100.64.0.0", 10],
	["127.0.0.0", 8],
	["169.254.0.0", 16],
	["172.16.0.0", 12],
	["192.0.0.0", 24],
	["192.168.0.0", 16],
	["198.18.0.0", 15],
	["224.0.0.0", 4],
	["240.0.0.0", 4],
] as const)
	BLOCKED.addSubnet(net4, prefix, "ipv4");
for (const [net6, prefix] of [
	["::", 128],
	["::1", 128],
	["fc00::", 7],
	["fe80::", 10],
	["ff00::", 8],
	["64:ff9b::", 96],
] as const)
	BLOCKED.addSubnet(net6, prefix, "ipv6");
/** Cloud metadata addresses outside the ranges above (Alibaba). */
BLOCKED.addAddress("100.100.100.200", "ipv4");

export class ForbiddenAddressError extends Error {
	name = "ForbiddenAddressError";
	code = "EFORBIDDENADDRESS";
}

/** An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 one. */
function unmapped(address: string): { address: string; family: "ipv4" | "ipv6" } {
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
	if (mapped) return { address: mapped[1], family: "ipv4" };
	return { address, family: net.isIPv6(address) ? "ipv6" : "ipv4" };
}

export function isForbiddenAddress(address: string): boolean {
	const { address: a, family } = unmapped(address);
	return BLOCKED.check(a, family);
}

export type Resolve = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolve: Resolve = hostname => dns.promises.lookup(hostname, { all: true, verbatim: true });

export class AddressGuard {
	private readonly allow: ReadonlySet<string>;

	constructor(
		allow: readonly string[],
		private readonly resolve: Resolve = systemResolve,
	) {
		this.allow = new Set(allow.map(a => a.toLowerCase().replace(/^\[|\]$/g, "")));
	}

	private permitted(hostname: string, address: string): boolean {
		return this.allow.has(hostname) || this.allow.has(address.toLowerCase()) || !isForbiddenAddress(address);
	}

	/** Every address the host has now, or throws: at registration, and before each attempt for an address literal. */
	async check(hostname: string): Promise<void> {
		const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
		const addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await this.resolve(host);
		if (!addresses.length) throw new ForbiddenAddressError(`${host} does not resolve`);
		const bad = addresses.find(a => !this.permitted(host, a.address));
		if (bad) throw new ForbiddenAddressError(`${host} resolves to ${bad.address}, a loopback, private, link-local or metadata address`);
	}

	/** The connection's lookup: the addresses it is about to connect to, every one permitted, or none. */
	readonly lookup: LookupFunction = (hostname, options, callback) => {
		const host = hostname.toLowerCase();
		const fail = (err: Error) => callback(err, "", 4);
		this.resolve(host).then(addresses => {
			const bad = addresses.find(a => !this.permitted(host, a.address));
			if (bad || !addresses.length) return fail(new ForbiddenAddressError(`${host} resolves to ${bad?.address ?? "nothing"}: refused`));
			// Node types the lookup callback for one address; with `all` it is called with the list.
			if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses);
			callback(null, addresses[0].address, addresses[0].family);
		}, fail);
	};
}
