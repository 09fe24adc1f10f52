// A Dockerfile as build stages: the ARGs before the first FROM, each stage's
// base and steps, which stages a target needs (its base stages and COPY
// --from sources, transitively) and so which can be skipped.
import { invalidArgument } from "../errors.ts";
import type { Dockerfile, Instruction } from "./dockerfile.ts";
import { expandWord, parseKeyValues, type Env } from "./shell-words.ts";

export interface Stage {
  index: number;
  /** Its "AS" name, lower-cased. */
  name?: string;
  from: Instruction;
  /** The base as written, global ARGs expanded: an image reference, "scratch", or an earlier stage's name. */
  base: string;
  /** The earlier stage it is built on, if any. */
  baseStage?: number;
  steps: Instruction[];
  /** Stages its COPY --from steps read. */
  copiesFrom: Set<number>;
}

export interface Plan {
  /** Global ARGs (before the first FROM) with their values: defaults, or the build's --build-arg. */
  globalArgs: Map<string, string>;
  stages: Stage[];
  target: Stage;
  /** Indexes of the stages the target needs, itself included. */
  needed: Set<number>;
}

const STAGE_NAME = /^[a-z][a-z0-9._-]*$/;

export function planStages(df: Dockerfile, file: string, buildArgs: ReadonlyMap<string, string>, target?: string): Plan {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  const where = (i: Instruction) => `${file}:${i.line}`;
  for (const ins of df.instructions) {
    if (ins.cmd === "from") {
      const base = expandWord(ins.args[0]!, globalArgs as Env, df.escape);
      if (base === "") throw invalidArgument(`${where(ins)}: base name (${ins.args[0]}) should not be blank`);
      const name = ins.args[2]?.toLowerCase();
      if (name !== undefined && !STAGE_NAME.test(name)) {
        throw invalidArgument(`${where(ins)}: invalid name for build stage: "${ins.args[2]}", name can't start with a number or contain symbols`);
      }
      if (name !== undefined && stages.some((s) => s.name === name)) throw invalidArgument(`${where(ins)}: duplicate name ${name} for build stage`);
      const baseStage = stages.find((s) => s.name === base.toLowerCase())?.index;
      stages.push({ index: stages.length, name, from: ins, base, baseStage, steps: [], copiesFrom: new Set() });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (ins.cmd !== "arg") throw invalidArgument(`${where(ins)}: no build stage in current context`, "a Dockerfile starts with FROM (only ARG may come before it)");
      for (const { key, value } of parseKeyValues(ins.args[0] ?? "", globalArgs as Env, { instruction: "arg", escape: df.escape, where: where(ins) })) {
        globalArgs.set(key, buildArgs.get(key) ?? value ?? "");
      }
      continue;
    }
    stage.steps.push(ins);
    if ((ins.cmd === "copy" || ins.cmd === "add") && ins.flags.from?.length) {
      const from = expandWord(ins.flags.from[0]!, globalArgs as Env, df.escape);
      const ref = stageByRef(stages, from, stage.index);
      if (ref !== undefined) stage.copiesFrom.add(ref);
    }
  }
  if (stages.length === 0) throw invalidArgument(`${file}: no FROM instruction`, "a Dockerfile needs at least one FROM");

  let targetStage = stages[stages.length - 1]!;
  if (target !== undefined && target !== "") {
    const t = stages.find((s) => s.name === target.toLowerCase());
    if (!t) throw invalidArgument(`failed to reach build target ${target} in ${file}`, `the stages are: ${stages.map((s) => s.name ?? String(s.index)).join(", ")}`);
    targetStage = t;
  }
  const needed = new Set<number>();
  const visit = (s: Stage) => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    if (s.baseStage !== undefined) visit(stages[s.baseStage]!);
    for (const c of s.copiesFrom) visit(stages[c]!);
  };
  visit(targetStage);
  return { globalArgs, stages, target: targetStage, needed };
}

/** The stage a COPY --from names (an earlier stage's name or index), or undefined for an image. */
export function stageByRef(stages: Stage[], ref: string, current: number): number | undefined {
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= current) throw invalidArgument(`invalid from flag value ${ref}: refers to current or future build stage`);
    return i;
  }
  return stages.find((s) => s.index < current && s.name === ref.toLowerCase())?.index;
}
