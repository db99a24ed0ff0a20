// How the domains' entry points (core/<domain>/index.ts) reach a group's coordinator, and
// turn its outcome back into a value or a CoreError. The coordinator itself calls only the
// domain code below them (writes.ts, rules.ts, reads.ts), never an entry point.

import { authorityOf } from "../core/roles/rules";
import type { Scope } from "../core/shared/context";
import { CoreError } from "../core/shared/errors";
import { tenantScoped } from "../core/shared/ids";
import type { Caller, GroupCoordinator, Outcome } from "./group-coordinator";

/**
 * The coordinator's stub, each call's outcome moving the request's D1 session on to the
 * coordinator's bookmark (http/d1-session.ts), so what the request reads next, and the
 * bookmark it answers with, include the coordinator's write.
 */
function following(scope: Scope, stub: DurableObjectStub<GroupCoordinator>): DurableObjectStub<GroupCoordinator> {
  const db = scope.db.$client as unknown as { advanceTo?: (bookmark: string) => void };
  if (typeof db.advanceTo !== "function") return stub;
  return new Proxy(stub, {
    get(target, prop) {
      const method = Reflect.get(target, prop) as unknown;
      if (typeof method !== "function" || prop === "then" || typeof prop !== "string") return method;
      return async (...args: unknown[]) => {
        const outcome = (await Reflect.apply(method as (...a: unknown[]) => unknown, target, args)) as Outcome<unknown> | undefined;
        if (outcome?.bookmark) db.advanceTo!(outcome.bookmark);
        return outcome;
      };
    },
  });
}

export function coordinatorOf(scope: Scope, groupId: string) {
  const ns = scope.env.GROUP_COORDINATOR;
  return following(scope, ns.get(ns.idFromName(tenantScoped(scope.tenantId, groupId))));
}

/** One coordinator per tenant serialises every change to the group hierarchy, so cycle checks hold. */
export function hierarchyCoordinatorOf(scope: Scope) {
  const ns = scope.env.GROUP_COORDINATOR;
  // "~" cannot occur in a group id, so this name never collides with a group's coordinator.
  return following(scope, ns.get(ns.idFromName(tenantScoped(scope.tenantId, "~hierarchy"))));
}

export function callerOf(scope: Scope, groupId: string, source = "api"): Caller {
  return {
    tenantId: scope.tenantId,
    groupId,
    actor: scope.actor,
    source,
    authority: authorityOf(scope.principal),
    ...(scope.expect ? { expect: [...scope.expect] } : {}),
    ...(scope.surface ? { surface: scope.surface } : {}),
  };
}

export async function unwrap<T>(outcome: Promise<Outcome<T>>): Promise<T> {
  const o = await outcome;
  if (!o.ok) throw CoreError.from(o.error);
  return o.value;
}
