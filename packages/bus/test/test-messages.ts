import { defineCommand, defineEvent } from "@dbplane/contracts";
import { z } from "zod";

/** Messages of the bus tests only; the real catalog lives in @dbplane/contracts. */
export const widgetCreated = defineEvent({
  service: "collector",
  name: "widget.created",
  schema: z.object({ widgetId: z.string().min(1), size: z.number().int().nonnegative() }),
  summary: "A test widget was created.",
});

export const widgetDeleted = defineEvent({
  service: "collector",
  name: "widget.deleted",
  schema: z.object({ widgetId: z.string().min(1) }),
  summary: "A test widget was deleted.",
});

export const paintWidget = defineCommand({
  service: "collector",
  name: "paint-widget",
  schema: z.object({ widgetId: z.string().min(1), color: z.enum(["red", "blue"]) }),
  summary: "Paint a test widget.",
});

export const gadgetMoved = defineEvent({
  service: "collector",
  name: "gadget.moved",
  schema: z.object({ gadgetId: z.string() }),
  summary: "A test gadget moved.",
});

export const polishWidget = defineCommand({
  service: "collector",
  name: "polish-widget",
  schema: z.object({ widgetId: z.string() }),
  summary: "Polish a test widget.",
});
