// A vitest (4.x) reporter whose only job is the very last line of a run:
//
//   N passed, N failed[, N skipped]
//
// a line CI can recognise, and that makes a run which executed no test visible ("0 passed, 0 failed").
// Counted as failed, each with a line saying why (printed just above the summary):
// - a failed test;
// - an error outside any test (a file that fails to import, a failing beforeAll/afterAll), once per
//   file or suite that has one;
// - an unhandled error (vitest also fails the run for these);
// - under CI (process.env.CI set and not "false"/"0"), every skipped or todo test: there the FUSE tests
//   must run, so a skip means something is missing. process.exitCode is set to 1 for these.
// Tests still pending when the run ends (an interrupted run) are counted as skipped. If vitest exits
// non-zero although nothing above failed (a failing globalSetup such as the build), that counts as
// one failure. In a single run the line is printed as the process exits, so it really is the last
// line; in watch mode it is printed at the end of each run.
import type { Reporter, TestCase, TestModule, TestRunEndReason, TestSuite, Vitest } from 'vitest/node'

type UnhandledErrors = Parameters<NonNullable<Reporter['onTestRunEnd']>>[1]

function inCI(): boolean {
  const v = process.env.CI
  return v !== undefined && v !== '' && v !== 'false' && v !== '0'
}

interface Summary {
  modules: number
  passed: number
  failed: number
  skipped: number
  notes: string[]
}

export default class SummaryReporter implements Reporter {
  private log: (line: string) => void = (line) => console.log(line)
  private watch = false
  private last: Summary | undefined
  private exitHookInstalled = false

  onInit(vitest: Vitest): void {
    this.log = (line) => vitest.logger.log(line)
    this.watch = Boolean(vitest.config.watch)
  }

  async onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: UnhandledErrors,
    reason: TestRunEndReason,
  ): Promise<void> {
    const summary = summarise(testModules, unhandledErrors, reason)
    if (summary.failed > 0 && !process.exitCode) process.exitCode = 1
    if (this.watch) {
      // Reporters are called together; let the default reporter finish its summary first.
      await new Promise((resolve) => setImmediate(resolve))
      this.print(summary)
      return
    }
    // A single run: print when the process exits, after everything vitest still has to say (a
    // failing globalSetup, errors during close, hanging-process warnings), so the line is last.
    this.last = summary
    if (!this.exitHookInstalled) {
      this.exitHookInstalled = true
      process.once('exit', (code) => this.onExit(code))
    }
  }

  private onExit(code: number): void {
    const summary = this.last ?? { modules: 0, passed: 0, failed: 0, skipped: 0, notes: [] }
    if (code !== 0 && summary.failed === 0) {
      summary.failed = 1
      summary.notes.push(
        summary.modules === 0
          ? `no test file ran and vitest is exiting with code ${code} (see above)`
          : `vitest is exiting with code ${code} although no test failed: an error outside the tests (see above)`,
      )
    }
    this.print(summary)
  }

  private print({ passed, failed, skipped, notes }: Summary): void {
    for (const note of notes) this.log(`summary: ${note}`)
    this.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
  }
}

function summarise(
  testModules: ReadonlyArray<TestModule>,
  unhandledErrors: UnhandledErrors,
  reason: TestRunEndReason,
): Summary {
  let passed = 0
  let failed = 0
  const skipped: string[] = []
  const notes: string[] = []

  for (const mod of testModules) {
    for (const test of mod.children.allTests()) {
      const result = test.result()
      if (result.state === 'passed') passed++
      else if (result.state === 'failed') failed++
      else if (result.state === 'skipped') {
        const why = result.note ? `skipped: ${result.note}` : test.options.mode === 'todo' ? 'todo' : 'skipped'
        skipped.push(describe(test, why))
      } else skipped.push(describe(test, 'did not finish'))
    }
    const outside: Array<TestModule | TestSuite> = [mod, ...mod.children.allSuites()]
    for (const entity of outside) {
      const errors = entity.errors()
      if (errors.length === 0) continue
      failed++
      const where = entity.type === 'module' ? mod.relativeModuleId : `${mod.relativeModuleId} > ${entity.fullName}`
      notes.push(`error outside a test in ${where}: ${firstLine(errors[0]?.message)}`)
    }
  }

  for (const err of unhandledErrors) {
    failed++
    notes.push(`unhandled error: ${firstLine(err?.message ?? String(err))}`)
  }

  let shownSkipped = skipped.length
  if (inCI() && skipped.length > 0) {
    failed += skipped.length
    shownSkipped = 0
    const n = skipped.length
    notes.push(`CI is set, so ${n} skipped test${n === 1 ? '' : 's'} count${n === 1 ? 's' : ''} as failed:`)
    for (const s of skipped) notes.push(`  - ${s}`)
    process.exitCode = 1
  }
  if (reason === 'interrupted') notes.push('the run was interrupted before every test finished')
  return { modules: testModules.length, passed, failed, skipped: shownSkipped, notes }
}

function describe(test: TestCase, why: string): string {
  return `${test.module.relativeModuleId} > ${test.fullName} (${why})`
}

function firstLine(message: string | undefined): string {
  return (message ?? 'unknown error').split('\n', 1)[0] ?? ''
}
