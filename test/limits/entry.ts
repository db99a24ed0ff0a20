// The workerd suite's entry: the product's Worker and Durable Object, with bindings that
// enforce Cloudflare's production limits (platform-limits.ts). A request is one invocation;
// so is each alarm run of a coordinator (its RPC calls are not counted: they interleave).

import type { Env } from "../../src/env";
import worker, { GroupCoordinator as ProductCoordinator } from "../../src/index";
import { type Invocation, limitedEnv, newInvocation } from "./platform-limits";

/** The most subrequests any counted invocation made in this test run. */
export const peakSubrequests = { value: 0 };

export class GroupCoordinator extends ProductCoordinator {
  private readonly invocation: Invocation;

  constructor(ctx: DurableObjectState, env: Env) {
    const invocation = newInvocation(peakSubrequests);
    invocation.counting = false;
    super(ctx, limitedEnv(env, invocation));
    this.invocation = invocation;
  }

  override async alarm() {
    this.invocation.subrequests = 0;
    this.invocation.counting = true;
    try {
      await super.alarm();
    } finally {
      this.invocation.counting = false;
    }
  }
}

export default {
  fetch: (request, env, ctx) =>
    worker.fetch!(request as Request<unknown, IncomingRequestCfProperties>, limitedEnv(env, newInvocation(peakSubrequests)), ctx),
  scheduled: (controller, env, ctx) => worker.scheduled!(controller, limitedEnv(env, newInvocation(peakSubrequests)), ctx),
} satisfies ExportedHandler<Env>;
