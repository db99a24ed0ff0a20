import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import { claimObject, readClaim } from "../../core/claims";
import * as hierarchy from "../../core/hierarchy";
import * as members from "../../core/members";
import { SCOPES } from "../../core/shared/scopes";
import * as users from "../../core/users";
import { ifMatch, ifNoneMatch, tag, viewTag } from "../../http/conditional";
import type { NativeApp } from "./app";
import { bodyErrors, conditionalRead, conditionalWrite, errors, json, ok, read, write } from "./openapi-helpers";
import * as s from "./schemas";
import { heldGroupOut, memberOut, transitiveHeldGroupOut, transitiveMemberOut } from "./shape";

export function registerMemberRoutes(app: NativeApp) {
  // Adding and replacing take the same body and differ only in the core call and its result.
  const bulk = [
    {
      method: "post",
      apply: members.addMembers,
      result: s.addResult,
      description:
        "Adds 1-1,000 users by id, email or phone number (duplicates folded). Unknown user ids get a bare profile; unknown emails or numbers are 404.",
    },
    {
      method: "put",
      apply: members.replaceMembers,
      result: s.replaceResult,
      description: "Makes the group's members exactly these 1-1,000 users (others are removed), in one step.",
    },
  ] as const;
  for (const { method, apply, result, description } of bulk) {
    app.openapi(
      createRoute({
        method,
        path: "/groups/{group_id}/members",
        tags: ["members"],
        middleware: [write, ifMatch] as const,
        description,
        request: { params: s.groupIdParam, body: json(s.memberIdsBody) },
        responses: {
          200: ok(s.result(result), "What changed"),
          422: ok(s.errorBody, "Over a membership limit"),
          ...bodyErrors,
          ...conditionalWrite,
        },
      }),
      async (c) => {
        const b = c.req.valid("json");
        const byContact = await users.userIdsByContact(c.var.scope, b.emails ?? [], b.phone_numbers ?? []);
        const { version, ...r } = await apply(c.var.scope, c.req.valid("param").group_id, [...(b.user_ids ?? []), ...byContact], {
          role: b.role,
          ...(b.expires_at === undefined ? {} : { expiresAt: b.expires_at * 1000 }),
        });
        tag(c, version);
        return c.json({ result: r }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "delete",
      path: "/groups/{group_id}/members",
      tags: ["members"],
      middleware: [write, ifMatch] as const,
      request: { params: s.groupIdParam, body: json(s.removeMemberIdsBody) },
      responses: { 200: ok(s.result(s.removeResult), "What changed"), ...bodyErrors, ...conditionalWrite },
    }),
    async (c) => {
      const { version, ...r } = await members.removeMembers(c.var.scope, c.req.valid("param").group_id, c.req.valid("json").user_ids);
      tag(c, version);
      return c.json({ result: r }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/members/{user_id}",
      tags: ["members"],
      middleware: [read, ifNoneMatch, viewTag] as const,
      description:
        "Is this user in this group? One direct member, as the members list shows them (profile, role, sources, added_at, expires_at), its ETag carrying the group's version for If-Match on a change of this member; with transitive=true, a member of the group or of any group below it, with `direct`. 404 when the group is unknown or the user is not in it.",
      request: { params: s.groupUserParams, query: s.transitiveQuery },
      responses: {
        200: ok(s.result(z.union([s.member, s.transitiveMember])), "The member (transitive: with `direct`)"),
        ...errors,
        ...conditionalRead,
      },
    }),
    async (c) => {
      const { group_id, user_id } = c.req.valid("param");
      if (c.req.valid("query").transitive)
        return c.json({ result: transitiveMemberOut(await hierarchy.transitiveMember(c.var.scope, group_id, user_id)) }, 200);
      const { member, groupVersion } = await users.getMember(c.var.scope, group_id, user_id);
      tag(c, groupVersion);
      return c.json({ result: memberOut(member) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/groups/{group_id}/members/{user_id}",
      tags: ["members"],
      middleware: [write, ifMatch] as const,
      description:
        "Removes the user's direct membership. 204 when the user left the group; 200 naming the sources (scim, analytics, rule) that still hold the user, who stays a member.",
      request: { params: s.groupUserParams },
      responses: {
        200: ok(s.result(s.stillMember), "The user stays a member through other sources"),
        204: { description: "Removed" },
        ...errors,
        ...conditionalWrite,
      },
    }),
    async (c) => {
      const { group_id, user_id } = c.req.valid("param");
      const { version, still } = await members.removeMember(c.var.scope, group_id, user_id);
      tag(c, version);
      if (still) return c.json({ result: { user_id, sources: still } }, 200);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/groups/{group_id}/members/{user_id}",
      tags: ["members"],
      middleware: [write, ifMatch] as const,
      description:
        "Changes a member's role in the group (member or admin), and when their direct membership ends (expires_at, epoch seconds; null: never). 409 for expires_at when no direct membership holds the user.",
      request: { params: s.groupUserParams, body: json(s.memberUpdateBody) },
      responses: { 204: { description: "Changed" }, ...bodyErrors, ...conditionalWrite },
    }),
    async (c) => {
      const { group_id, user_id } = c.req.valid("param");
      const b = c.req.valid("json");
      const expiresAt = b.expires_at === undefined ? {} : { expiresAt: b.expires_at === null ? null : b.expires_at * 1000 };
      tag(c, await members.updateMember(c.var.scope, group_id, user_id, { role: b.role, ...expiresAt }));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/groups/{group_id}/members",
      tags: ["members"],
      middleware: [read, ifNoneMatch, viewTag] as const,
      description:
        "The members' entire user profiles, paged in user-id order. The direct list's ETag carries the group's version (for If-Match on member changes) and a digest of the page (for If-None-Match: a member's profile may change too).",
      request: { params: s.groupIdParam, query: s.memberListQuery.extend(s.transitiveQuery.shape) },
      responses: {
        200: ok(s.pageResult(z.union([s.member, s.transitiveMember])), "A page of members (transitive: with `direct`)"),
        ...errors,
        ...conditionalRead,
      },
    }),
    async (c) => {
      const { transitive, search, ...q } = c.req.valid("query");
      const groupId = c.req.valid("param").group_id;
      if (transitive) {
        const page = await hierarchy.transitiveMembers(c.var.scope, groupId, q);
        return c.json({ result: page.items.map(transitiveMemberOut), next_cursor: page.nextCursor }, 200);
      }
      const page = await users.listMembers(c.var.scope, groupId, { ...q, search });
      tag(c, page.version);
      return c.json({ result: page.items.map(memberOut), next_cursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/users/{user_id}/groups",
      tags: ["users"],
      middleware: [read] as const,
      request: { params: s.userIdParam, query: s.pageQuery.extend(s.transitiveQuery.shape) },
      responses: {
        200: ok(s.pageResult(z.union([s.heldGroup, s.transitiveHeldGroup])), "A page of the user's groups (transitive: with `membership`)"),
        ...errors,
      },
    }),
    async (c) => {
      const { transitive, ...q } = c.req.valid("query");
      const userId = c.req.valid("param").user_id;
      if (transitive) {
        const page = await hierarchy.transitiveUserGroups(c.var.scope, userId, q);
        return c.json({ result: page.items.map(transitiveHeldGroupOut), next_cursor: page.nextCursor }, 200);
      }
      const page = await users.listUserGroups(c.var.scope, userId, q);
      return c.json({ result: page.items.map(heldGroupOut), next_cursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/users/{user_id}/claims",
      tags: ["users"],
      middleware: [requireScope(SCOPES.claims, SCOPES.read)] as const,
      description: "The groups claim an ID token would carry; past the overage limit, an OIDC distributed-claims pointer.",
      request: { params: s.userIdParam },
      responses: { 200: ok(s.result(s.claimResult), "The claim object"), ...errors },
    }),
    async (c) => {
      const userId = c.req.valid("param").user_id;
      const claim = await readClaim(c.var.scope, userId);
      const endpoint = new URL(`/v1/users/${encodeURIComponent(userId)}/groups`, c.req.url).toString();
      return c.json({ result: claimObject(claim, endpoint) }, 200);
    },
  );
}
