// The workerd suite's entry: the product's Worker and Durable Objects, with bindings that
// enforce Cloudflare's production limits (platform-limits.ts). A request is one invocation;
// so is each alarm run of a Durable Object (its RPC calls are not counted: they interleave).

import type { WebhookMessage } from "../../src/core/webhooks";
import type { Env } from "../../src/env";
import worker, { ClaimsWriter as ProductClaimsWriter, GroupCoordinator as ProductCoordinator } from "../../src/index";

// Only counts requests: no binding to limit.
export { RateLimiter } from "../../src/index";

import { type Invocation, kvRefusals, limitedEnv, newInvocation, PLATFORM_LIMITS } from "./platform-limits";

/** The most subrequests any counted invocation made in this test run. */
export const peakSubrequests = { value: 0 };

/** An object's bindings, counted only while its alarm runs. */
function objectInvocation(env: Env): { env: Env; invocation: Invocation } {
  const invocation = newInvocation(peakSubrequests);
  invocation.counting = false;
  return { env: limitedEnv(env, invocation), invocation };
}

async function countedAlarm(invocation: Invocation, alarm: () => Promise<void>) {
  invocation.subrequests = 0;
  invocation.counting = true;
  try {
    await alarm();
  } finally {
    invocation.counting = false;
  }
}

// any[]: TypeScript requires it of a mixin's base constructor.
type ObjectClass = new (...args: any[]) => { alarm(): Promise<void> };

/** The product's Durable Object class, with its bindings limited and each alarm run counted as one invocation. */
function limitedObject<Base extends ObjectClass>(Product: Base) {
  return class extends Product {
    readonly invocation: Invocation;

    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      const limited = objectInvocation(env);
      super(ctx, limited.env);
      this.invocation = limited.invocation;
    }

    override alarm() {
      return countedAlarm(this.invocation, () => super.alarm());
    }
  };
}

export const GroupCoordinator = limitedObject(ProductCoordinator);
export const ClaimsWriter = limitedObject(ProductClaimsWriter);

/** GET /__limits: what the layer saw since the last DELETE /__limits (a local server run with EDGE_GROUPS_LIMITS=on). */
function report(request: Request): Response | undefined {
  if (new URL(request.url).pathname !== "/__limits") return undefined;
  if (request.method === "DELETE") {
    peakSubrequests.value = 0;
    kvRefusals.value = 0;
  }
  return Response.json({ peak_subrequests: peakSubrequests.value, kv_refusals: kvRefusals.value, limit: PLATFORM_LIMITS.subrequests });
}

export default {
  fetch: (request, env, ctx) =>
    report(request) ??
    worker.fetch!(request as Request<unknown, IncomingRequestCfProperties>, limitedEnv(env, newInvocation(peakSubrequests)), ctx),
  scheduled: (controller, env, ctx) => worker.scheduled!(controller, limitedEnv(env, newInvocation(peakSubrequests)), ctx),
  queue: (batch, env) => worker.queue!(batch, limitedEnv(env, newInvocation(peakSubrequests))),
} satisfies ExportedHandler<Env, WebhookMessage>;
