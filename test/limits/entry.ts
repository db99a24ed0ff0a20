// The workerd suite's entry: the product's Worker and Durable Objects, with bindings that
// enforce Cloudflare's production limits (platform-limits.ts). A request is one invocation;
// so is each call on a Durable Object (an RPC call, an alarm run): an object's calls interleave,
// so each one's subrequests are told apart by the async context it runs in.
import { AsyncLocalStorage } from "node:async_hooks";
import type { WebhookMessage } from "../../src/core/webhooks";
import type { Env } from "../../src/env";
import worker, { ClaimsWriter as ProductClaimsWriter, GroupCoordinator as ProductCoordinator } from "../../src/index";

// Only counts requests: no binding to limit.
export { RateLimiter } from "../../src/index";

import { type Invocation, kvRefusals, limitedEnv, newInvocation, PLATFORM_LIMITS } from "./platform-limits";

/** The most subrequests any counted invocation made in this test run. */
export const peakSubrequests = { value: 0 };

/** The most subrequests one call of each Durable Object method ("GroupCoordinator.reconcileRule") made in this test run. */
export const peaksByCall = new Map<string, number>();

/** The Durable Object call running now, in whichever object. */
const objectCall = new AsyncLocalStorage<Invocation>();

/** `method` as its own invocation when called from outside the object; a call the object makes on itself stays in the caller's. */
const asInvocation = <A extends unknown[], R>(name: string, method: (...args: A) => R) =>
  function (this: unknown, ...args: A): R {
    const run = () => method.apply(this, args);
    if (objectCall.getStore()) return run();
    const counted = (n: number) => peaksByCall.set(name, Math.max(peaksByCall.get(name) ?? 0, n));
    return objectCall.run(newInvocation(peakSubrequests, counted), run);
  };

// any[]: TypeScript requires it of a mixin's base constructor.
type ObjectClass = new (...args: any[]) => object;

/** The product's Durable Object class, with its bindings limited and each of its calls (RPC, alarm) counted as one invocation. */
function limitedObject<Base extends ObjectClass>(className: string, Product: Base) {
  const Limited = class extends Product {
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      super(
        ctx,
        limitedEnv(env, () => objectCall.getStore()),
      );
    }
  };
  // Every method of the product's class (its own, not DurableObject's), wrapped on the subclass.
  for (const [name, { value }] of Object.entries(Object.getOwnPropertyDescriptors(Product.prototype))) {
    if (name !== "constructor" && typeof value === "function")
      Object.defineProperty(Limited.prototype, name, { value: asInvocation(`${className}.${name}`, value), writable: true });
  }
  return Limited;
}

export const GroupCoordinator = limitedObject("GroupCoordinator", ProductCoordinator);
export const ClaimsWriter = limitedObject("ClaimsWriter", ProductClaimsWriter);

/** GET /__limits: what the layer saw since the last DELETE /__limits (a local server run with EDGE_GROUPS_LIMITS=on). */
function report(request: Request): Response | undefined {
  if (new URL(request.url).pathname !== "/__limits") return undefined;
  if (request.method === "DELETE") {
    peakSubrequests.value = 0;
    peaksByCall.clear();
    kvRefusals.value = 0;
  }
  return Response.json({
    peak_subrequests: peakSubrequests.value,
    peaks_by_object_call: Object.fromEntries(peaksByCall),
    kv_refusals: kvRefusals.value,
    limit: PLATFORM_LIMITS.subrequests,
  });
}

export default {
  fetch: (request, env, ctx) =>
    report(request) ??
    worker.fetch!(request as Request<unknown, IncomingRequestCfProperties>, limitedEnv(env, newInvocation(peakSubrequests)), ctx),
  scheduled: (controller, env, ctx) => worker.scheduled!(controller, limitedEnv(env, newInvocation(peakSubrequests)), ctx),
  queue: (batch, env) => worker.queue!(batch, limitedEnv(env, newInvocation(peakSubrequests))),
} satisfies ExportedHandler<Env, WebhookMessage>;
