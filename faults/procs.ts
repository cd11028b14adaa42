/**
 * Child processes for the fault suite: Parley's own entrypoints, a private redis-server and a
 * private Postgres cluster, all on loopback ports of their own so breaking them never touches the
 * machine's shared Redis and Postgres that other test runs use.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls `fn` until truthy or `ms` passes; returns whether it succeeded. */
export async function until(
  fn: () => Promise<unknown> | unknown,
  ms: number,
  stepMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await fn()) return true;
    } catch {
      // not yet
    }
    await sleep(stepMs);
  }
  return false;
}

/** One child process with its output appended to a log file. */
export class Proc {
  child: ChildProcess | undefined;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly cmd: string,
    private readonly args: string[],
    private readonly opts: { env?: Record<string, string>; cwd?: string; logFile: string },
  ) {}

  start(): this {
    const log = createWriteStream(this.opts.logFile, { flags: 'a' });
    log.write(`\n--- start ${new Date().toISOString()} ${this.cmd} ${this.args.join(' ')}\n`);
    const child = spawn(this.cmd, this.args, {
      cwd: this.opts.cwd,
      env: { ...process.env, ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.child = child;
    this.exitCode = null;
    this.exitSignal = null;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
    });
    return this;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child!.kill(sig);
  }

  /** Resolves true if the process exits within `ms`. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  /** SIGTERM, then SIGKILL after `ms`. */
  async stop(ms = 5000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    if (!(await this.waitExit(ms))) {
      this.signal('SIGKILL');
      await this.waitExit(2000);
    }
  }

  tail(lines = 15): string {
    try {
      return readFileSync(this.opts.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** A redis-server of our own, without persistence (like the machine's), restartable on the same port. */
export class PrivateRedis {
  proc: Proc;
  constructor(
    readonly port: number,
    logFile: string,
  ) {
    this.proc = new Proc(
      'redis',
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { logFile },
    );
  }
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc.start();
    const ok = await until(() => {
      try {
        return execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { stdio: 'pipe' })
          .toString()
          .includes('PONG');
      } catch {
        return false;
      }
    }, 10_000);
    if (!ok) throw new Error(`private redis on ${this.port} did not start:\n${this.proc.tail()}`);
  }
  async kill(): Promise<void> {
    this.proc.signal('SIGKILL');
    await this.proc.waitExit(5000);
  }
  cli(...args: string[]): string {
    return execFileSync('redis-cli', ['-p', String(this.port), ...args], { stdio: 'pipe' })
      .toString()
      .trim();
  }
}

/**
 * A throwaway Postgres cluster (initdb into a temp dir, run as the postgres OS user since initdb
 * refuses root), so restarting it mid-burst breaks nobody else's tests.
 */
export class PrivatePostgres {
  readonly bin: string;
  readonly data: string;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    const versions = readdirSync('/usr/lib/postgresql').sort();
    this.bin = join('/usr/lib/postgresql', versions[versions.length - 1]!, 'bin');
    this.data = join(dir, 'pgdata');
  }

  static available(): boolean {
    return existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').length > 0;
  }

  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/parley_faults`;
  }

  /** Async so the load generator keeps running while Postgres restarts. */
  private async asPostgres(cmd: string, args: string[]): Promise<void> {
    const isRoot = process.getuid?.() === 0;
    const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    await promisify(execFile)(file, argv as string[], { timeout: 60_000 });
  }

  private pgctl(action: string, extra: string[] = []): Promise<void> {
    return this.asPostgres(join(this.bin, 'pg_ctl'), [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-t',
      '30',
      ...extra,
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      action,
    ]);
  }

  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    // mkdtemp makes the parent 0700; the postgres user must be able to walk into it.
    chmodSync(dirname(this.dir), 0o755);
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(this.dir, uid, gid);
    }
    await this.asPostgres(join(this.bin, 'initdb'), [
      '-D',
      this.data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    await this.pgctl('start');
  }

  restart(): Promise<void> {
    return this.pgctl('restart', ['-m', 'fast']);
  }

  async stop(): Promise<void> {
    try {
      await this.pgctl('stop', ['-m', 'immediate']);
    } catch {
      // already stopped
    }
  }
}
