// A real terminal for interactive tests: a tmux session whose screen can be typed into and read.
import assert from 'node:assert/strict';

import { run } from './berthd.js';

export class Terminal {
  private constructor(readonly session: string) {}

  static async open(name: string, width: number, height: number, command: string[]): Promise<Terminal> {
    const terminal = new Terminal(`berth-${name}-${process.pid}`);
    await terminal.tmux('new-session', '-d', '-s', terminal.session, '-x', String(width), '-y', String(height), ...command);
    await terminal.tmux('set-option', '-t', terminal.session, 'remain-on-exit', 'on');
    return terminal;
  }

  tmux(...args: string[]) {
    return run('tmux', args);
  }

  async screen(): Promise<string> {
    return (await this.tmux('capture-pane', '-t', this.session, '-p')).stdout;
  }

  /** Types keys (tmux key names such as Enter or C-c are understood). */
  async type(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', this.session, ...keys);
  }

  async resize(width: number, height: number): Promise<void> {
    await this.tmux('resize-window', '-t', this.session, '-x', String(width), '-y', String(height));
  }

  /** Waits up to 10 s for `text` on the screen. */
  async until(text: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await this.screen()).includes(text)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`terminal never showed ${JSON.stringify(text)}:\n${await this.screen()}`);
  }

  async close(): Promise<void> {
    await this.tmux('kill-session', '-t', this.session);
  }
}
