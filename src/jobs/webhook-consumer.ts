// The webhook queue's consumer (core/webhooks/delivery.ts): each message is acknowledged or retried with its
// backoff. A batch may hold several tenants' messages: each tenant's go to its own shard.
import { tenantDb } from "../core/shared/context";
import { groupBy } from "../core/shared/group-by";
import { deliver, WEBHOOK_LIMITS, type WebhookMessage } from "../core/webhooks";
import type { Env } from "../env";

const retryBase = (env: Env) => Number(env.WEBHOOK_RETRY_BASE_SECONDS) || WEBHOOK_LIMITS.defaultBaseDelaySeconds;

export async function consumeWebhooks(batch: MessageBatch<WebhookMessage>, env: Env) {
  for (const [tenantId, messages] of groupBy(batch.messages, (m) => m.body.tenant)) {
    try {
      const outcomes = await deliver(
        await tenantDb(env, tenantId),
        messages.map((m) => m.body),
        retryBase(env),
      );
      messages.forEach((m, i) => {
        const o = outcomes[i]!;
        if (o.settle) m.ack();
        else m.retry({ delaySeconds: o.delaySeconds });
      });
    } catch (e) {
      // One tenant's failure (its shard unreachable, say) retries its messages only; the other tenants' go on.
      console.error(JSON.stringify({ level: "error", msg: "webhook delivery failed; retried", tenant: tenantId, error: String(e) }));
      for (const m of messages) m.retry({ delaySeconds: retryBase(env) });
    }
  }
}
