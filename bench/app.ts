// `npm run bench:app -- [records]`: the app in headless Chromium with N accounts (10,000) of alice's on the
// server. Prints the shell's size (gzip), the first sync with the app open (sign-in to home), the time to
// interactive of a cold start with those records on the device (reload to home, and to the account list
// showing all of them), scrolling the virtual list end to end (ms per step, rows in the page) against the
// peer, the same rows as a plain list (all in the page), and searches over the records.

import * as Y from 'yjs'
import { buildCatalog } from '../src/docs/catalog.ts'
import { createRecord, readRecord } from '../src/docs/record.ts'
import { rowOf } from '../src/projection/rows.ts'
import { asRecordId, docName } from '../src/ids.ts'
import { buildApp } from '../scripts/build-app.ts'
import { launchChromium } from '../test/helpers/browser.ts'
import { startTestServer } from '../test/helpers/server.ts'

const N = Number(process.argv[2] ?? 10_000)
const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`
const ms = (n: number): string => `${n.toFixed(0)} ms`

const built = await buildApp()
const gzip = Object.values(built.sizes).reduce((a, s) => a + s.gzip, 0)
console.log(`app shell: ${kib(gzip)} gzip (app.js ${kib(built.sizes['app.js'].gzip)}, app.css ${kib(built.sizes['app.css'].gzip)}, index.html ${kib(built.sizes['index.html'].gzip)}, sw.js ${kib(built.sizes['sw.js'].gzip)})`)

const s = await startTestServer()
const browser = await launchChromium()
try {
  const account = buildCatalog().entities.get('account')!
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < N; i++) {
    const doc = new Y.Doc()
    const id = asRecordId(`bench${i}`)
    createRecord(doc, account, { id, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: `Bench account ${i}`, telephone1: `+47 ${i}`, accountnumber: `A-${i}`, numberofemployees: i % 500, industrycode: 1 + (i % 7), emailaddress1: `a${i}@example.com`, address1_city: i % 3 === 0 ? 'Oslo' : 'Bergen', websiteurl: `https://a${i}.example` } }, { by: 'u-alice', at: new Date().toISOString() })
    writes.push(s.storage.append(docName('account', id), Y.encodeStateAsUpdate(doc), { row: { entity: 'account', id, values: rowOf(account, readRecord(doc, account)) } }))
  }
  await Promise.all(writes)
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()
  await page.goto(`${s.url}/`)
  let t = performance.now()
  await page.getByRole('button', { name: /Alice Adams/ }).click()
  await page.locator('ul.entities').waitFor({ timeout: 600_000 })
  const held = Number(await page.locator('ul.entities a', { hasText: 'Account' }).locator('.count').textContent())
  console.log(`first sync with the app open: ${held} accounts (${N} added) in ${ms(performance.now() - t)} (sign-in click to home)`)
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null)

  t = performance.now()
  await page.reload()
  await page.locator('ul.entities').waitFor()
  const home = performance.now() - t
  await page.getByRole('link', { name: /^Account/ }).click()
  await page.getByRole('combobox', { name: 'View' }).selectOption('')
  await page.waitForFunction(n => Number(document.querySelector('.total')?.textContent?.split(' ')[0]) >= n, N)
  console.log(`cold start with ${held} accounts on the device: home ${ms(home)}, all accounts listed ${ms(performance.now() - t)} (reload to screen)`)

  // Scrolling the virtual list end to end, a screenful per step, each step until two frames were painted.
  const scroll = await page.evaluate(async () => {
    const el = document.querySelector('.scroller') as HTMLElement
    const times: number[] = []
    let most = 0
    for (let top = 0; top < el.scrollHeight; top += el.clientHeight) {
      const t0 = performance.now()
      el.scrollTop = top
      el.dispatchEvent(new Event('scroll'))
      await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))
      times.push(performance.now() - t0)
      most = Math.max(most, el.querySelectorAll('.row').length)
    }
    times.sort((a, b) => a - b)
    return { steps: times.length, p50: times[Math.floor(times.length / 2)], p95: times[Math.floor(times.length * 0.95)], rows: most }
  })
  console.log(`virtual list, scrolling end to end: ${scroll.steps} steps, p50 ${scroll.p50.toFixed(1)} ms, p95 ${scroll.p95.toFixed(1)} ms per step (two frames), at most ${scroll.rows} rows in the page`)

  // The peer: the same rows as a plain list, all in the page (what a list without virtualization renders).
  const plain = await page.evaluate(async () => {
    const rows = document.querySelectorAll(".row").length
    const n = Number(document.querySelector('.total')?.textContent?.split(' ')[0])
    const t0 = performance.now()
    const ul = document.createElement('ul')
    ul.style.cssText = 'height:600px;overflow-y:auto'
    for (let i = 0; i < n; i++) { const li = document.createElement('li'); li.innerHTML = `<a href="#/r/account/x${i}"><strong>Bench account ${i}</strong><small>+47 ${i}</small></a>`; ul.appendChild(li) }
    document.body.appendChild(ul)
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))
    const first = performance.now() - t0
    const times: number[] = []
    for (let top = 0; top < ul.scrollHeight; top += ul.clientHeight * 20) { const t1 = performance.now(); ul.scrollTop = top; await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); times.push(performance.now() - t1) }
    ul.remove()
    times.sort((a, b) => a - b)
    return { rows, n, first, p50: times[Math.floor(times.length / 2)] }
  })
  console.log(`peer, a plain list of the same ${plain.n} rows: ${plain.first.toFixed(0)} ms to the first paint (the virtual list keeps ${scroll.rows} rows in the page), scroll steps p50 ${plain.p50.toFixed(1)} ms`)

  // Searches (categorized, one entity), typed into the search box: to the result count shown (includes the 150 ms pause after typing).
  for (const q of ['Bench account 9999', 'a123', 'Oslo', 'nothing-matches']) {
    t = performance.now()
    await page.getByLabel('Search Account').fill(q)
    await page.waitForFunction(([before]) => document.querySelector('.total')?.getAttribute('data-query') === before, [q])
    console.log(`search "${q}": ${ms(performance.now() - t)} to "${await page.locator('.total').textContent()}" (of which 150 ms is the typing pause)`)
  }
} finally {
  await browser.close()
  await s.dispose()
}
