// What `dfs policy get` prints for each kind of answer (the daemon and the NameNode send a PolicyReport).

import { describe, expect, it } from 'vitest'
import { formatPolicyReport } from '../../src/cli/policy.js'

describe('formatPolicyReport', () => {
  it('says where the policy is set, or that it is the cluster\'s default', () => {
    expect(formatPolicyReport({ path: '/mnt/photos/trip', type: 'dir', policy: 'ec:2+1', from: '/mnt/photos' })).toBe('/mnt/photos/trip: ec:2+1 (set on /mnt/photos)')
    expect(formatPolicyReport({ path: '/mnt/docs', type: 'dir', policy: 'replicas:2' })).toBe('/mnt/docs: replicas:2 (the cluster\'s default)')
  })

  it('adds a file\'s chunks by the layout they are stored in now', () => {
    expect(formatPolicyReport({
      path: '/photos/a.jpg', type: 'file', policy: 'ec:2+1', from: '/photos',
      chunks: [{ layout: 'ec:2+1', count: 2 }, { layout: 'replicas:2', count: 1 }],
    })).toBe('/photos/a.jpg: ec:2+1 (set on /photos)\n3 chunks: 2 ec:2+1, 1 replicas:2')
    expect(formatPolicyReport({ path: '/e', type: 'file', policy: 'replicas:2', chunks: [] }))
      .toBe('/e: replicas:2 (the cluster\'s default)\nno chunks stored (the file is empty or all holes)')
  })

  it('keeps a name with a newline on one line', () => {
    expect(formatPolicyReport({ path: '/a\nb', type: 'dir', policy: 'replicas:2' }).split('\n')).toHaveLength(1)
  })
})
