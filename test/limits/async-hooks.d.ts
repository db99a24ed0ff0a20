// The part of node:async_hooks the limits layer uses (workerd's, under the nodejs_als flag): the
// project's types leave Node's out, so nothing in src can reach for them.
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    getStore(): T | undefined;
    run<R>(store: T, fn: () => R): R;
  }
}
