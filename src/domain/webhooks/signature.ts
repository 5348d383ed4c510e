import { createHmac, randomBytes } from "node:crypto";

// Standard Webhooks (standardwebhooks.com): the secret is `whsec_` + base64 of the key, and a
// delivery carries `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature`,
// `v1,` + base64 of HMAC-SHA256 over "id.timestamp.body" keyed with the decoded secret, so any
// of its verifier libraries checks imgd's deliveries.

const PREFIX = "whsec_";

/** A new endpoint secret: 32 random bytes. */
export function newSecret(): string {
  return PREFIX + randomBytes(32).toString("base64");
}

/** The headers of one delivery attempt. */
export function signedHeaders(secret: string, messageId: string, timestampS: number, body: string) {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, "base64");
  const mac = createHmac("sha256", key).update(`${messageId}.${timestampS}.${body}`).digest("base64");
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestampS),
    "webhook-signature": `v1,${mac}`,
  };
}

/** The secret as a listing shows it: its kind and last characters only. */
export const maskSecret = (secret: string) => `${PREFIX}…${secret.slice(-4)}`;
