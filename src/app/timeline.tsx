// A record's timeline: its notes, oldest first, a note with a picture taken or chosen on the device, and
// opening an attachment (from the device, or downloaded when online).

import { useEffect, useState } from 'preact/hooks'
import type { FieldsyncDevice, NoteView } from '../client/device.ts'
import { dataVersion } from './state.ts'
import { refusalWords } from './words.ts'

const size = (n: number): string => n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`

/** Picture types shown in place: raster only (an SVG carries script). Its note's author chose the type, so
 * anything else gets an object URL of no type a browser renders: a blob: URL is of the app's origin, and
 * one of HTML or SVG opened in a tab of its own would run the author's script beside the reader's sign-in. */
const PICTURES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])

const Attachment = ({ device, record, note }: { device: FieldsyncDevice, record: string, note: NoteView }) => {
  const [url, setUrl] = useState<string | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const a = note.attachment!
  const picture = PICTURES.has(a.mimetype.toLowerCase())
  useEffect(() => () => { if (url !== null) URL.revokeObjectURL(url) }, [url])
  const open = (): void => {
    device.attachment(record, note.id).then(data => setUrl(URL.createObjectURL(new Blob([data.slice()], { type: picture ? a.mimetype.toLowerCase() : 'application/octet-stream' }))), (e: Error) => setProblem(e.message))
  }
  return (
    <div class="attachment">
      {url === null
        ? <button type="button" onClick={open}>Open {a.filename} ({size(a.size)})</button>
        : picture ? <img src={url} alt={a.filename} /> : <a href={url} download={a.filename}>Save {a.filename}</a>}
      {problem !== null && <small class="error" role="alert">{problem}</small>}
    </div>
  )
}

export const Timeline = ({ device, record }: { device: FieldsyncDevice, record: string }) => {
  const [notes, setNotes] = useState<NoteView[]>([])
  const [subject, setSubject] = useState('')
  const [text, setText] = useState('')
  const [file, setFile] = useState<File | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  /** a new key empties the file input after a note is added */
  const [formKey, setFormKey] = useState(0)
  const v = dataVersion.value
  useEffect(() => { void device.notes(record).then(setNotes) }, [record, v])
  const add = async (): Promise<void> => {
    setBusy(true)
    try {
      const attachment = file === null ? undefined : { filename: file.name, mimetype: file.type || 'application/octet-stream', data: new Uint8Array(await file.arrayBuffer()) }
      await device.addNote(record, { subject, text, attachment })
      setSubject(''); setText(''); setFile(null); setProblem(null); setFormKey(k => k + 1)
      setNotes(await device.notes(record))
      dataVersion.value++
    } catch (e) {
      setProblem(refusalWords(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section class="timeline" aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <ol class="notes">
        {notes.length === 0 && <li class="empty">No notes yet.</li>}
        {notes.map(n => (
          <li key={n.id} class="tl-note" data-note-id={n.id}>
            <strong>{n.subject}</strong> <small>{n.createdon === '' ? '' : new Date(n.createdon).toLocaleString()}</small>
            {n.text !== '' && <p>{n.text}</p>}
            {n.attachment !== null && <Attachment device={device} record={record} note={n} />}
          </li>
        ))}
      </ol>
      <form key={formKey} class="add-note" aria-label="Add a note" onSubmit={e => { e.preventDefault(); void add() }}>
        <label>Note title<input name="subject" required value={subject} onInput={e => setSubject(e.currentTarget.value)} /></label>
        <label>Note<textarea name="text" rows={2} value={text} onInput={e => setText(e.currentTarget.value)} /></label>
        <label>Picture or file<input name="picture" type="file" accept="image/*" capture="environment" onChange={e => setFile(e.currentTarget.files?.[0] ?? null)} /></label>
        <button type="submit" disabled={busy}>Add note</button>
        {problem !== null && <p role="alert" class="error">{problem}</p>}
      </form>
    </section>
  )
}
