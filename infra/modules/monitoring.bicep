// What an operator opens: the fleet workbook and the alert rules, both on the broker's own events in
// Application Insights (the log records of shared/logger.ts: `environment snapshot`, `operation
// finished`, `approval waiting`, `approval decided`, `request rejected`, `poison messages
// recorded`). The queries live in infra/monitoring/; test/infra checks that each event they read is
// one the code logs.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Resource id of the broker\'s Application Insights component.')
param insightsId string

@description('Email address the alerts go to; empty sends them nowhere but the portal.')
param alertEmail string = ''

var alerts = loadJsonContent('../monitoring/alerts.json').alerts

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(insightsId, 'claw-broker-fleet')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'claw-broker fleet'
    category: 'workbook'
    sourceId: insightsId
    serializedData: loadTextContent('../monitoring/fleetWorkbook.json')
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-claw-broker'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'clawbroker'
    enabled: true
    emailReceivers: [{ name: 'operators', emailAddress: alertEmail, useCommonAlertSchema: true }]
  }
}

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for alert in alerts: {
    name: 'claw-broker-${alert.name}'
    location: location
    tags: tags
    properties: {
      displayName: 'claw-broker: ${alert.name}'
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [insightsId]
      evaluationFrequency: alert.frequency
      windowSize: alert.window
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: empty(alertEmail) ? [] : [actionGroup.id] }
    }
  }
]
