import { bodyLimit } from "hono/body-limit";
import { CoreError } from "../core/shared/errors";
import { LIMITS } from "../core/shared/validation";

/** Refuse a body over the limit before anything parses it. */
export const limitBody = (maxBytes: number = LIMITS.bodyBytes) =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new CoreError("payload_too_large", `request body is larger than ${maxBytes} bytes`);
    },
  });
