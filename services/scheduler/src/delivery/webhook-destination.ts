import { type LookupAddress, lookup } from "node:dns";
import type { LookupFunction } from "node:net";
import { Agent } from "undici";
import {
  addressProblem,
  hostAllowed,
  literalAddress,
  type WebhookAllowList,
} from "../domain/webhook-allow-list.ts";

/** A webhook's destination is not allowed: a loopback, private, link-local … address not listed. */
export class WebhookAddressRefusedError extends Error {
  override readonly name = "WebhookAddressRefusedError";
  readonly code = "WEBHOOK_ADDRESS_REFUSED";
}

/** Resolves a host name to all its addresses (the system resolver, as connections use it). */
export type ResolveAll = (host: string) => Promise<string[]>;

export const resolveAll: ResolveAll = (host) =>
  new Promise((resolve, reject) =>
    lookup(host, { all: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses.map((a) => a.address)),
    ),
  );

/**
 * Why a webhook URL may not be called, or `null`, as seen now: a listed host name is allowed
 * whatever it resolves to; otherwise every address (the literal one, or each the name resolves
 * to) must be public or in a listed range. A name that does not resolve is not refused here —
 * it may exist by the time the job fires, and every attempt checks again as it connects.
 */
export async function destinationProblem(
  list: WebhookAllowList,
  url: URL,
  resolve: ResolveAll = resolveAll,
): Promise<string | null> {
  if (hostAllowed(list, url)) return null;
  const literal = literalAddress(url);
  if (literal) return addressProblem(list, literal);
  let addresses: string[];
  try {
    addresses = await resolve(url.hostname);
  } catch {
    return null;
  }
  for (const address of addresses) {
    const problem = addressProblem(list, address);
    if (problem) return `${url.hostname} resolves to ${problem}`;
  }
  return null;
}

/**
 * The HTTP agents webhook attempts go through. `guarded` checks the addresses a name resolves
 * to inside the connection's own lookup — the addresses checked are the addresses connected to,
 * so a name that resolves to a public address at one lookup and to 127.0.0.1 at the next (DNS
 * rebinding) cannot slip through. `open` serves the host names the allow-list vouches for.
 */
export interface WebhookAgents {
  readonly guarded: Agent;
  readonly open: Agent;
  close(): Promise<void>;
}

export function webhookAgents(list: WebhookAllowList): WebhookAgents {
  const guarded = new Agent({ connect: { lookup: guardedLookup(list) } });
  const open = new Agent();
  return {
    guarded,
    open,
    async close() {
      await Promise.all([guarded.close(), open.close()]);
    },
  };
}

function guardedLookup(list: WebhookAllowList): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      for (const a of addresses) {
        const problem = addressProblem(list, a.address);
        if (problem)
          return callback(new WebhookAddressRefusedError(`${hostname} resolves to ${problem}`), "", 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
}
