// Every temp folder a test file made with makeTempDir (test/helpers/tmp.ts) and did not remove is
// removed once the file's tests are done, so no file leaves folders behind in /tmp, whether it
// cleans up after itself or not (a few hundred folders, 1.5 GB, were left by one run before). Set up
// before each test file's own hooks, so it runs after them (vitest runs "after" hooks last
// registered first): the file's servers and daemons have stopped by then.

import { afterAll } from 'vitest'
import { cleanupTempDirs } from '../helpers/tmp.js'

afterAll(cleanupTempDirs)
