// The built-in offline entities, their attributes and commands (DESIGN.md's offline table).

import type { AttributeDef, EntityDef, ManyToManyDef, OfflineCommand, OptionDef } from './catalog-types.ts'

const CRUD: readonly OfflineCommand[] = ['create', 'read', 'update', 'delete']
const READ_ONLY: readonly OfflineCommand[] = ['read']

const text = (name: string, label: string, maxLength = 200): AttributeDef => ({ name, type: 'text', label, maxLength })
const memo = (name: string, label: string): AttributeDef => ({ name, type: 'memo', label, maxLength: 100_000 })
const whole = (name: string, label: string, min = -2_147_483_648, max = 2_147_483_647): AttributeDef =>
  ({ name, type: 'whole', label, min, max })
const decimal = (name: string, label: string, precision = 4): AttributeDef =>
  ({ name, type: 'decimal', label, precision, min: -1e12, max: 1e12 })
const money = (name: string, label: string): AttributeDef =>
  ({ name, type: 'money', label, precision: 2, min: -922_337_203_685, max: 922_337_203_685 })
const yesNo = (name: string, label: string): AttributeDef => ({ name, type: 'boolean', label })
const date = (name: string, label: string): AttributeDef => ({ name, type: 'date', label })
const dateTime = (name: string, label: string): AttributeDef => ({ name, type: 'datetime', label })
const options = (name: string, label: string, labels: readonly string[]): AttributeDef => ({
  name, type: 'optionset', label,
  options: labels.map((l, i): OptionDef => ({ value: i + 1, label: l }))
})
const lookup = (name: string, label: string, ...targets: string[]): AttributeDef => ({ name, type: 'lookup', label, targets })

const entity = (
  name: string, label: string, commands: readonly OfflineCommand[], attributes: AttributeDef[],
  extra: { activity?: boolean, pointer?: boolean } = {}
): EntityDef => ({ name, label, primaryName: attributes[0].name, attributes, commands, custom: false, ...extra })

const address = (): AttributeDef[] => [
  text('address1_line1', 'Street 1'), text('address1_city', 'City', 80), text('address1_postalcode', 'ZIP/Postal code', 20),
  text('address1_country', 'Country/Region', 80)
]

const activity = (name: string, label: string, commands: readonly OfflineCommand[], more: AttributeDef[], extra: { pointer?: boolean } = {}): EntityDef =>
  entity(name, label, commands, [
    text('subject', 'Subject'),
    memo('description', 'Description'),
    lookup('regardingobjectid', 'Regarding', 'account', 'contact', 'lead', 'opportunity', 'incident'),
    dateTime('scheduledstart', 'Start date'),
    dateTime('scheduledend', 'Due'),
    whole('actualdurationminutes', 'Duration (minutes)', 0, 525_600),
    options('prioritycode', 'Priority', ['Low', 'Normal', 'High']),
    ...more
  ], extra.pointer === true ? { pointer: true } : { activity: true })

export const BUILT_IN_ENTITIES: readonly EntityDef[] = [
  entity('account', 'Account', CRUD, [
    text('name', 'Account name', 160), text('accountnumber', 'Account number', 20), text('telephone1', 'Main phone', 50),
    text('emailaddress1', 'Email', 100), text('websiteurl', 'Website', 200), ...address(),
    options('industrycode', 'Industry', ['Accounting', 'Agriculture', 'Construction', 'Consulting', 'Manufacturing', 'Retail', 'Services']),
    money('revenue', 'Annual revenue'), whole('numberofemployees', 'Number of employees', 0, 1_000_000_000),
    yesNo('donotemail', 'Do not allow emails'), lookup('parentaccountid', 'Parent account', 'account'),
    lookup('primarycontactid', 'Primary contact', 'contact'), lookup('originatingleadid', 'Originating lead', 'lead'),
    memo('description', 'Description'),
    date('lastonholdtime', 'Last on hold', )
  ]),
  entity('contact', 'Contact', CRUD, [
    text('fullname', 'Full name', 160), text('firstname', 'First name', 50), text('lastname', 'Last name', 50),
    text('jobtitle', 'Job title', 100), text('emailaddress1', 'Email', 100), text('telephone1', 'Business phone', 50),
    text('mobilephone', 'Mobile phone', 50), ...address(), lookup('parentcustomerid', 'Company name', 'account'),
    date('birthdate', 'Birthday'), yesNo('donotphone', 'Do not allow phone calls'),
    options('preferredcontactmethodcode', 'Preferred method of contact', ['Any', 'Email', 'Phone', 'Fax', 'Mail']),
    lookup('originatingleadid', 'Originating lead', 'lead'), memo('description', 'Description')
  ]),
  entity('lead', 'Lead', [...CRUD, 'qualify', 'disqualify'], [
    text('subject', 'Topic'), text('firstname', 'First name', 50), text('lastname', 'Last name', 50),
    text('companyname', 'Company name', 100), text('emailaddress1', 'Email', 100), text('telephone1', 'Business phone', 50),
    options('leadsourcecode', 'Lead source', ['Advertisement', 'Employee referral', 'External referral', 'Partner', 'Public relations', 'Seminar', 'Trade show', 'Web', 'Word of mouth', 'Other']),
    options('leadqualitycode', 'Rating', ['Hot', 'Warm', 'Cold']), money('budgetamount', 'Budget amount'),
    date('estimatedclosedate', 'Est. close date'), lookup('parentaccountid', 'Existing account', 'account'),
    lookup('parentcontactid', 'Existing contact', 'contact'), memo('description', 'Description')
  ]),
  entity('opportunity', 'Opportunity', CRUD, [
    text('name', 'Topic'), lookup('parentaccountid', 'Account', 'account'), lookup('parentcontactid', 'Contact', 'contact'),
    lookup('originatingleadid', 'Originating lead', 'lead'), money('estimatedvalue', 'Est. revenue'),
    date('estimatedclosedate', 'Est. close date'), whole('closeprobability', 'Probability', 0, 100),
    options('opportunityratingcode', 'Rating', ['Hot', 'Warm', 'Cold']),
    options('salesstagecode', 'Sales stage', ['Qualify', 'Develop', 'Propose', 'Close']),
    memo('description', 'Description'), memo('currentsituation', 'Current situation')
  ]),
  entity('opportunityproduct', 'Opportunity product', CRUD, [
    text('productdescription', 'Write-in product'), lookup('opportunityid', 'Opportunity', 'opportunity'),
    lookup('productid', 'Existing product', 'product'), decimal('quantity', 'Quantity', 5), money('priceperunit', 'Price per unit'),
    money('manualdiscountamount', 'Manual discount'), money('extendedamount', 'Extended amount')
  ]),
  entity('incident', 'Case', CRUD, [
    text('title', 'Case title'), text('ticketnumber', 'Case number', 100), lookup('customerid', 'Customer', 'account', 'contact'),
    lookup('primarycontactid', 'Contact', 'contact'), lookup('productid', 'Product', 'product'),
    options('prioritycode', 'Priority', ['High', 'Normal', 'Low']),
    options('caseorigincode', 'Origin', ['Phone', 'Email', 'Web', 'Facebook', 'Twitter']),
    options('casetypecode', 'Case type', ['Question', 'Problem', 'Request']),
    dateTime('followupby', 'Follow up by'), yesNo('isescalated', 'Is escalated'), memo('description', 'Description')
  ]),
  entity('competitor', 'Competitor', CRUD, [
    text('name', 'Name', 100), text('websiteurl', 'Website', 200), money('reportedrevenue', 'Reported revenue'),
    text('tickersymbol', 'Ticker symbol', 10), memo('strengths', 'Strengths'), memo('weaknesses', 'Weaknesses')
  ]),
  entity('competitoraddress', 'Competitor address', CRUD, [
    text('name', 'Address name', 200), lookup('parentid', 'Competitor', 'competitor'), ...address()
  ]),
  entity('position', 'Position', CRUD, [text('name', 'Name', 100), lookup('parentpositionid', 'Parent position', 'position'), memo('description', 'Description')]),
  activity('phonecall', 'Phone call', CRUD, [text('phonenumber', 'Phone number', 200), yesNo('directioncode', 'Outgoing')]),
  activity('task', 'Task', CRUD, [whole('percentcomplete', 'Percent complete', 0, 100)]),
  activity('appointment', 'Appointment', [...CRUD, 'convert-to-case'], [text('location', 'Location'), yesNo('isalldayevent', 'All day event')]),
  // The activities above and email, seen together: read and delete only (DESIGN.md's offline table).
  activity('activitypointer', 'Activity', ['read', 'delete'], [text('activitytypecode', 'Activity type', 64)], { pointer: true }),
  activity('email', 'Email', READ_ONLY, [text('sender', 'From', 250), text('torecipients', 'To', 500), yesNo('directioncode', 'Outgoing')]),
  entity('product', 'Product', READ_ONLY, [
    text('name', 'Name', 100), text('productnumber', 'Product ID', 100), money('price', 'List price'),
    decimal('quantityonhand', 'Quantity on hand', 5), memo('description', 'Description')
  ]),
  entity('attachment', 'Attachment', READ_ONLY, [
    text('filename', 'File name', 255), text('mimetype', 'Mime type', 256), whole('filesize', 'File size (bytes)', 0),
    text('contenthash', 'Content hash (sha-256)', 64), lookup('objectid', 'Regarding', 'account', 'contact', 'lead', 'opportunity', 'incident', 'email')
  ]),
  entity('connection', 'Connection', READ_ONLY, [
    text('name', 'Name', 500), lookup('record1id', 'Connected from', 'account', 'contact', 'lead', 'opportunity'),
    lookup('record2id', 'Connected to', 'account', 'contact', 'lead', 'opportunity'),
    lookup('record1roleid', 'Role (from)', 'connectionrole'), lookup('record2roleid', 'Role (to)', 'connectionrole')
  ]),
  entity('connectionrole', 'Connection role', READ_ONLY, [text('name', 'Name', 100), options('category', 'Category', ['Business', 'Family', 'Social', 'Sales', 'Other', 'Stakeholder', 'Sales team', 'Service'])]),
  entity('team', 'Team', READ_ONLY, [text('name', 'Team name', 160), memo('description', 'Description')]),
  entity('systemuser', 'User', READ_ONLY, [
    text('fullname', 'Full name', 200), text('internalemailaddress', 'Primary email', 100), text('title', 'Title', 128),
    lookup('parentsystemuserid', 'Manager', 'systemuser')
  ])
]

/** N:N relationships are not expressed by lookups, so they are declared. */
export const BUILT_IN_MANY_TO_MANY: readonly ManyToManyDef[] = [
  { name: 'opportunitycompetitors', from: 'opportunity', to: 'competitor' },
  { name: 'leadcompetitors', from: 'lead', to: 'competitor' },
  { name: 'competitorproduct', from: 'competitor', to: 'product' },
  { name: 'teammembership', from: 'team', to: 'systemuser' }
]

/** Commands every custom entity offers offline (DESIGN.md). */
export const CUSTOM_ENTITY_COMMANDS: readonly OfflineCommand[] = [
  ...CRUD, 'edit', 'mark-complete', 'refresh', 'convert-to-opportunity'
]
