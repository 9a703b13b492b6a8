/** How a long operation reports itself: a live line on a terminal, plain lines otherwise. */
export interface ProgressLine {
  /** The current state in words; shown when it changes (plain) or redrawn (terminal). */
  update(text: string): void;
  /** Ends the display with a last line, ✔ or ✖. */
  done(ok: boolean, text: string): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FRAME_MS = 80;

/**
 * Progress on stderr, so stdout keeps only the result (`-o json` stays parseable). A terminal
 * gets a spinner redrawn in place; a pipe or a log gets one line per change, nothing else.
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  let text = "";
  if (!stream.isTTY) {
    return {
      update(next) {
        if (next !== text) stream.write(`${next}\n`);
        text = next;
      },
      done(ok, last) {
        stream.write(`${ok ? "done" : "failed"}: ${last}\n`);
      },
    };
  }
  let frame = 0;
  const draw = () => stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`);
  const timer = setInterval(draw, FRAME_MS);
  // The spinner alone never keeps the process alive.
  timer.unref();
  return {
    update(next) {
      text = next;
      draw();
    },
    done(ok, last) {
      clearInterval(timer);
      stream.write(`\r\x1b[2K${ok ? "\x1b[32m✔\x1b[0m" : "\x1b[31m✖\x1b[0m"} ${last}\n`);
    },
  };
}
