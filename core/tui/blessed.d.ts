// The part of blessed 0.1.81 that berth tui uses (the package has no types).
// Loaded at run time from node_modules (core/tui/ui.ts): Bun's bundler cannot
// follow blessed's dynamic requires of its widgets and terminfo files.
declare module "blessed" {
  namespace blessed {
  namespace Widgets {
    interface Key {
      name?: string;
      full: string;
      ctrl?: boolean;
      shift?: boolean;
      meta?: boolean;
      sequence?: string;
    }
    interface Mouse {
      x: number;
      y: number;
      action: string;
      button?: string;
    }
    interface Style {
      fg?: string;
      bg?: string;
      bold?: boolean;
      border?: { fg?: string; bg?: string };
      label?: { fg?: string; bold?: boolean };
      [k: string]: unknown;
    }
    interface ElementOptions {
      parent?: Node;
      top?: number | string;
      left?: number | string;
      right?: number | string;
      bottom?: number | string;
      width?: number | string;
      height?: number | string;
      content?: string;
      label?: string;
      tags?: boolean;
      border?: "line" | "bg" | { type: "line" | "bg" };
      style?: Style;
      hidden?: boolean;
      clickable?: boolean;
      mouse?: boolean;
      keys?: boolean;
      scrollable?: boolean;
      alwaysScroll?: boolean;
      wrap?: boolean;
      padding?: number | { left?: number; right?: number; top?: number; bottom?: number };
      scrollbar?: { ch?: string; style?: Style } | boolean;
      [k: string]: unknown;
    }
    interface Node {
      on(event: string, listener: (...args: any[]) => void): this;
      destroy(): void;
    }
    interface Element extends Node {
      top: number | string;
      left: number | string;
      width: number | string;
      height: number | string;
      readonly atop: number;
      readonly aleft: number;
      readonly itop: number;
      readonly ileft: number;
      readonly iheight: number;
      readonly iwidth: number;
      hidden: boolean;
      style: Style;
      setContent(text: string): void;
      getContent(): string;
      setLabel(text: string): void;
      show(): void;
      hide(): void;
      focus(): void;
      setFront(): void;
      scroll(n: number): void;
      scrollTo(n: number): void;
      setScrollPerc(p: number): void;
      getScroll(): number;
    }
    interface Program {
      clear(): void;
      normalBuffer(): void;
      alternateBuffer(): void;
      showCursor(): void;
      hideCursor(): void;
      flush(): void;
      enableMouse(): void;
      disableMouse(): void;
      input: NodeJS.ReadStream;
      output: NodeJS.WriteStream;
    }
    interface Screen extends Node {
      readonly width: number;
      readonly height: number;
      program: Program;
      render(): void;
      alloc(): void;
      realloc(): void;
      append(el: Element): void;
      enter(): void;
      leave(): void;
    }
  }
  function screen(opts: Record<string, unknown>): Widgets.Screen;
  function box(opts: Widgets.ElementOptions): Widgets.Element;
  }
  export = blessed;
}
