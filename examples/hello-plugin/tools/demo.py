from dify_plugin import Tool

class DemoTool(Tool):
    pass
