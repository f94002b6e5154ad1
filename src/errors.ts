// An input error that names the field it is about (admin changes, offline profiles); HTTP answers it 400.

export class FieldError extends Error {
  override name = 'FieldError'
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}
